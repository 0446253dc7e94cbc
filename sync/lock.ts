import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

// One pass per SOURCE/TARGET pair per host: a lock file created with O_EXCL holding our pid,
// host and process start time. A lock whose process is gone (or whose pid was reused by
// another process) is stale and is taken over.

interface LockInfo {
  pid: number;
  host: string;
  start: string; // process start time (field 22 of /proc/<pid>/stat)
  since: string;
}

export function procStart(pid: number): string | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const rest = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return rest[19]; // field 22 overall; rest[0] is field 3
  } catch {
    return undefined;
  }
}

function alive(info: LockInfo): boolean {
  if (info.host !== os.hostname()) return true; // cannot tell: assume it is held
  try {
    process.kill(info.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ESRCH") return false;
  }
  const start = procStart(info.pid);
  if (start === undefined) return true;
  return info.start === "" || start === info.start;
}

function readLock(file: string): LockInfo | undefined {
  try {
    const j = JSON.parse(fs.readFileSync(file, "utf8"));
    if (typeof j.pid === "number") return j as LockInfo;
  } catch {
    // fall through
  }
  return undefined;
}

export type LockResult = { ok: true; release: () => void } | { ok: false; holder: string };

// Create `file` holding `info`, only if it does not exist. The content is written to a private
// name first and hard-linked into place, so the file never exists half written (a pass
// killed in between leaves only the private name, removed by the next lock holder).
function createWithContent(file: string, info: LockInfo): boolean {
  const mine = `${file}.new-${info.pid}`;
  fs.writeFileSync(mine, JSON.stringify(info) + "\n", { mode: 0o644 });
  try {
    fs.linkSync(mine, file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    return false;
  } finally {
    fs.rmSync(mine, { force: true });
  }
}

// Private names `<lock>.new-<pid>` of processes that are gone (killed while locking).
function removeDeadPrivateNames(file: string): void {
  const dir = path.dirname(file);
  const prefix = `${path.basename(file)}.`;
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    const m = n.startsWith(prefix) ? /^(?:break\.)?new-([0-9]+)$/.exec(n.slice(prefix.length)) : null;
    if (!m || +m[1] === process.pid) continue;
    try {
      process.kill(+m[1], 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ESRCH") fs.rmSync(path.join(dir, n), { force: true });
    }
  }
}

export function acquireLock(file: string): LockResult {
  const me: LockInfo = { pid: process.pid, host: os.hostname(), start: procStart(process.pid) ?? "", since: new Date().toISOString() };
  for (let attempt = 0; attempt < 5; attempt++) {
    if (createWithContent(file, me)) {
      removeDeadPrivateNames(file);
      let released = false;
      return {
        ok: true,
        release: () => {
          if (released) return;
          released = true;
          const cur = readLock(file);
          if (cur && cur.pid === me.pid && cur.start === me.start) fs.rmSync(file, { force: true });
        },
      };
    }
    const info = readLock(file);
    // A lock file is never half written (see createWithContent): one we cannot read is stale.
    if (info !== undefined && alive(info)) return { ok: false, holder: `pid ${info.pid} on ${info.host} since ${info.since}` };
    // Stale. Break it under a second lock so that two breakers cannot both win; a breaker
    // that was killed while breaking is itself stale.
    const breaker = `${file}.break`;
    if (!createWithContent(breaker, me)) {
      const b = readLock(breaker);
      if (b === undefined || !alive(b)) fs.rmSync(breaker, { force: true });
      continue;
    }
    try {
      const again = readLock(file);
      if (again === undefined || !alive(again)) fs.rmSync(file, { force: true });
    } finally {
      fs.rmSync(breaker, { force: true });
    }
  }
  return { ok: false, holder: "unknown (lock contended)" };
}
