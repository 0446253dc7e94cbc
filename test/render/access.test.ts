// The read-only drift account's files, checked by the programs that read them: sudo's visudo,
// sshd's own config test, and the helper run for real under bash with fake gluster and nft.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { DRIFT_ACCOUNT } from "../../model/model";
import { VOLUME_NAME } from "../../model/schema";
import { DRIFT_KEYS_FILE, DRIFT_READ, driftAuthorizedKeys, driftRead, driftSshdConfig, driftSudoers } from "../../render/access";
import { tmpdir } from "./helpers";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBq3Xb6zv0fQm0bJ9t8eU1d0kYcW0m0tq0bqVj8mQ8xS ci-drift";

test("sudoers: visudo accepts it; the account may run only the helper, as root, without a password", () => {
  const dir = tmpdir("sudoers");
  const f = path.join(dir, "glustermesh-drift");
  fs.writeFileSync(f, driftSudoers(), { mode: 0o440 });
  const r = spawnSync("visudo", ["-cf", f], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const rules = driftSudoers().split("\n").filter((l) => l && !l.startsWith("#"));
  assert.deepEqual(rules, [`${DRIFT_ACCOUNT} ALL=(root) NOPASSWD: ${DRIFT_READ}`]);
  // the check can fail
  fs.writeFileSync(f, driftSudoers().replace("NOPASSWD:", "NOPASSWD"));
  assert.notEqual(spawnSync("visudo", ["-cf", f], { encoding: "utf8" }).status, 0);
});

/** sshd -T (the effective config) for a user, with our drop-in included like Debian's sshd_config. */
function sshdConfigFor(user: string, dropIn: string): { status: number | null; out: string } {
  const dir = tmpdir("sshd");
  spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "host_key")]);
  fs.mkdirSync(path.join(dir, "conf.d"));
  fs.writeFileSync(path.join(dir, "conf.d", "glustermesh-drift.conf"), dropIn);
  // Debian's order: the Include first, then global settings a leaking Match block would swallow
  fs.writeFileSync(path.join(dir, "sshd_config"), `Include ${dir}/conf.d/*.conf\nHostKey ${dir}/host_key\nUsePAM yes\nX11Forwarding yes\nSubsystem sftp /usr/lib/openssh/sftp-server\n`);
  fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 }); // sshd -T insists on its privilege separation directory
  const r = spawnSync("/usr/sbin/sshd", ["-T", "-f", path.join(dir, "sshd_config"), "-C", `user=${user},host=ci,addr=192.0.2.1`], { encoding: "utf8" });
  fs.rmSync(dir, { recursive: true, force: true });
  return { status: r.status, out: r.stdout + r.stderr };
}

test("sshd: the drift account's keys come only from our root-owned file, with no forwarding or terminal; other users are untouched", () => {
  const drift = sshdConfigFor(DRIFT_ACCOUNT, driftSshdConfig());
  assert.equal(drift.status, 0, drift.out);
  for (const line of [`authorizedkeysfile ${DRIFT_KEYS_FILE}`, "authenticationmethods publickey", "passwordauthentication no", "allowtcpforwarding no", "allowagentforwarding no", "x11forwarding no", "permittty no", "permituserrc no"]) {
    assert.match(drift.out, new RegExp(`^${line}$`, "m"), line);
  }
  const root = sshdConfigFor("root", driftSshdConfig());
  assert.equal(root.status, 0, root.out);
  assert.match(root.out, /^authorizedkeysfile \.ssh\/authorized_keys/m);
  assert.match(root.out, /^x11forwarding yes$/m, "the Match block leaked into the global settings");
});

test("authorized keys: each key restricted (no forwarding, pty or rc); none, an empty file", () => {
  assert.equal(driftAuthorizedKeys([KEY]), `restrict ${KEY}\n`);
  assert.equal(driftAuthorizedKeys([]), "");
});

/** The helper run for real, its PATH pointed at fake gluster and nft that log their arguments. */
function runHelper(args: string[]): { status: number | null; stdout: string; stderr: string; calls: string[] } {
  const dir = tmpdir("drift-read");
  const log = path.join(dir, "calls");
  for (const tool of ["gluster", "nft"]) {
    fs.writeFileSync(path.join(dir, tool), `#!/bin/bash\nprintf '%s' ${tool} >> ${log}; printf ' [%s]' "$@" >> ${log}; echo >> ${log}; echo ok\n`, { mode: 0o755 });
  }
  const text = driftRead().replace(/^PATH=.*$/m, `PATH=${dir}:/usr/bin:/bin`);
  assert.notEqual(text, driftRead(), "the helper sets its own PATH");
  const r = spawnSync("bash", ["-c", text, "drift-read", ...args], { encoding: "utf8" });
  const calls = fs.existsSync(log) ? fs.readFileSync(log, "utf8").split("\n").filter(Boolean) : [];
  fs.rmSync(dir, { recursive: true, force: true });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, calls };
}

test("drift-read runs only its fixed read-only queries; anything else is a usage error and runs nothing", () => {
  const ok: Array<[string[], string]> = [
    [["peer-status"], "gluster [--mode=script] [--xml] [peer] [status]"],
    [["volume-info"], "gluster [--mode=script] [--xml] [volume] [info]"],
    [["volume-status"], "gluster [--mode=script] [--xml] [volume] [status] [all]"],
    [["volume-get", "projects"], "gluster [--mode=script] [--xml] [volume] [get] [projects] [all]"],
    [["rebalance-status", "projects"], "gluster [--mode=script] [--xml] [volume] [rebalance] [projects] [status]"],
    [["firewall-table"], "nft [list] [table] [inet] [glustermesh]"],
  ];
  for (const [args, call] of ok) {
    const r = runHelper(args);
    assert.equal(r.status, 0, `${args.join(" ")}: ${r.stderr}`);
    assert.deepEqual(r.calls, [call]);
  }
  const refused = [[], ["volume-set", "projects", "x", "y"], ["peer-status", "extra"], ["volume-get"], ["volume-get", "projects", "all"], ["volume-get", "projects; touch /tmp/x"], ["volume-get", "-h"], ["volume-get", "../x"], ["rebalance-status", "projects", "start"], ["firewall-table", "flush"]];
  for (const args of refused) {
    const r = runHelper(args);
    assert.equal(r.status, 2, `${JSON.stringify(args)}: exit ${r.status}`);
    assert.match(r.stderr, /^usage: drift-read /);
    assert.deepEqual(r.calls, [], `${JSON.stringify(args)} ran something`);
  }
});

test("drift-read takes the same volume names as the inventory", () => {
  const re = /\[\[ \$# -eq 1 && \$1 =~ (\S+) \]\]/.exec(driftRead());
  assert.ok(re, "the helper's volume check");
  assert.equal(re[1], VOLUME_NAME.source);
});
