// Secrets stay secret: the deploy's SSH key only ever travels inside secret inputs, and the tinc
// private keys never leave the hosts (nothing the program declares or outputs carries one).
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { plainStrings, runScenario, Resources, SSH_KEY } from "./harness";

const SSH_KEY_BODY = SSH_KEY.split("\n")[1];
// What a careless key script could print next to the public key.
const TINC_PRIVATE = "-----BEGIN RSA PRIVATE KEY-----\nTUlJRXBBSUJBQUtDQVFFQXRpbmNwcml2YXRlc2VjcmV0\n-----END RSA PRIVATE KEY-----\n";
const TINC_PRIVATE_BODY = TINC_PRIVATE.split("\n")[1];

for (const stack of ["padelford", "4545"]) {
  test(`${stack}: the SSH key is only in secret inputs; no output or input carries a private key`, async () => {
    const result = await runScenario({ stack, keyStdoutNoise: TINC_PRIVATE });
    assert.equal(result.ok, true, JSON.stringify(result.error));
    assert.deepEqual(result.unhandled, []);
    const rs = new Resources(result.resources);
    assert.ok(rs.commands().length > 50);
    for (const r of rs.list) {
      for (const s of plainStrings(r.rawInputs)) {
        assert.ok(!s.value.includes(SSH_KEY_BODY), `${r.name}: the SSH key is in plain input ${s.path}`);
        assert.ok(!s.value.includes("PRIVATE KEY"), `${r.name}: a private key is in plain input ${s.path}`);
        assert.ok(!s.value.includes(TINC_PRIVATE_BODY), `${r.name}: the tinc private key is in input ${s.path}`);
      }
    }
    for (const r of rs.commands()) {
      const conn = r.rawInputs.connection as { $secret?: { privateKey?: string; hostKey?: string } };
      assert.ok(conn && "$secret" in conn, `${r.name}: the connection is not secret`);
      assert.equal(conn.$secret!.privateKey, SSH_KEY, `${r.name} logs in with the configured key`);
      assert.match(String(conn.$secret!.hostKey), /^ssh-ed25519 /, `${r.name} pins the host key`);
    }
    const outputs = JSON.stringify(result.outputs);
    assert.ok(!outputs.includes(SSH_KEY_BODY), "the SSH key is in a stack output");
    assert.ok(!outputs.includes("PRIVATE KEY"), "a private key is in a stack output");
    assert.ok(outputs.includes("BEGIN RSA PUBLIC KEY"), "meshHosts carries the public keys");
    // Even the secret inputs never carry a tinc private key (host files hold public keys only).
    assert.ok(!JSON.stringify(result.resources).includes(TINC_PRIVATE_BODY));
  });
}

test("the tinc key script prints only the public key and keeps the private key on the host", async () => {
  const result = await runScenario({ stack: "padelford" });
  const script = String(new Resources(result.resources).get("padelford/mesh/cloud1/key").inputs.create);
  const lines = script.split("\n");
  // Every line that touches the private key writes it to a file, never to stdout.
  for (const line of lines.filter((l) => l.includes("rsa_key.priv"))) {
    assert.doesNotMatch(line, /\b(cat|echo|printf|tee|base64)\b[^|>]*rsa_key\.priv(?![^>]*>)/, `prints the private key: ${line}`);
  }
  const keygen = lines.find((l) => /tincd .*-K/.test(l));
  assert.ok(keygen && />\s*\/dev\/null/.test(keygen), `key generation output is discarded: ${keygen}`);
  assert.match(script, /cat "\$dir\/rsa_key\.pub"/);
});
