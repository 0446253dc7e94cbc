// tinc 1.0's protection, as rendered: strong packet crypto in every host file, and StrictSubnets
// so that only the Subnet lines of our own host files route (auth.allow trusts those addresses).
import assert from "node:assert/strict";
import { test } from "node:test";
import { hostFile, tincConf, TINC_CRYPTO } from "../../render/tinc";
import { dcSteps } from "../../render/steps";
import { fakeFacts, models, scriptOf } from "./helpers";

const host = { name: "laba1", address: "192.0.2.1", tinc: "10.250.1.1", publicKey: "-----BEGIN RSA PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----" };

test("tinc.conf sets StrictSubnets; host files set AES-256, HMAC-SHA256 and a 16-byte MAC", () => {
  const conf = tincConf({ network: "glustermesh", interface: "tun0", port: 655, prefix: 16, name: "laba1", tinc: "10.250.1.1", connectTo: ["laba2"], hosts: [host] });
  assert.match(conf, /^StrictSubnets = yes$/m);
  const file = hostFile(host, 655).split("\n");
  assert.deepEqual(TINC_CRYPTO, ["Cipher = aes-256-cbc", "Digest = sha256", "MACLength = 16"]);
  for (const line of TINC_CRYPTO) assert.ok(file.includes(line), `host file lacks ${line}`);
  // the settings precede the key block: tinc reads variables only outside the PEM block
  assert.ok(file.indexOf("MACLength = 16") < file.findIndex((l) => l.startsWith("-----BEGIN")));
  assert.deepEqual(file.filter((l) => l.startsWith("Subnet = ")), ["Subnet = 10.250.1.1/32"], "one Subnet: the node's own address");
});

test("every mesh config step of every model writes the protected tinc.conf and host files", () => {
  for (const { label, model } of models()) {
    const facts = fakeFacts(model);
    for (const dc of model.dcs) {
      for (const step of dcSteps(model, dc.name).filter((s) => /\/mesh\/[^/]+\/config$/.test(s.name))) {
        const text = scriptOf(step, facts)!;
        assert.match(text, /StrictSubnets = yes/, `${label}:${step.name}`);
        assert.match(text, /MACLength = 16/, `${label}:${step.name}`);
        // StrictSubnets routes only what tincd read: every host file written makes it reload
        const then = [...text.matchAll(/^if put_file '?\/etc\/tinc\/[^' ]+\/hosts\/[^' ]+'? '?644'? <<'GLUSTERMESH_EOF'\n[\s\S]*?\nGLUSTERMESH_EOF\nthen\n {2}(\S+)/gm)].map((m) => m[1]);
        assert.ok(then.length > 0, `${label}:${step.name}: no host file written`);
        assert.deepEqual([...new Set(then)], ["reload=1"], `${label}:${step.name}: a changed host file must reload tincd`);
      }
    }
  }
});
