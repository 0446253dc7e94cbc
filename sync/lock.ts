import * as fs from "node:fs";
import * as os from "node:os";

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

export function acquireLock(file: string): LockResult {
  const me: LockInfo = { pid: process.pid, host: os.hostname(), start: procStart(process.pid) ?? "", since: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(file, "wx", 0o644);
      fs.writeSync(fd, JSON.stringify(me) + "\n");
      fs.closeSync(fd);
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
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const info = readLock(file);
    if (info === undefined) {
      // Being written right now, or garbage. Garbage older than a minute is stale.
      let old = false;
      try {
        old = Date.now() - fs.statSync(file).mtimeMs > 60_000;
      } catch {
        continue; // vanished: retry
      }
      if (!old) return { ok: false, holder: "unknown (lock file being written)" };
    } else if (alive(info)) {
      return { ok: false, holder: `pid ${info.pid} on ${info.host} since ${info.since}` };
    }
    // Stale. Break it under a second O_EXCL file so that two breakers cannot both win.
    const breaker = `${file}.break`;
    try {
      fs.closeSync(fs.openSync(breaker, "wx"));
    } catch {
      try {
        if (Date.now() - fs.statSync(breaker).mtimeMs > 60_000) fs.rmSync(breaker, { force: true });
      } catch {
        // ignore
      }
      continue;
    }
    try {
      const again = readLock(file);
      if (again === undefined ? true : !alive(again)) fs.rmSync(file, { force: true });
    } finally {
      fs.rmSync(breaker, { force: true });
    }
  }
  return { ok: false, holder: "unknown (lock contended)" };
}
