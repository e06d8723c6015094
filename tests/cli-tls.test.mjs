// The CLI against an https:// edge, as after `npm run deploy`: a TLS-terminating proxy with
// a certificate from a private CA stands in front of a real wrangler dev, and `hookfeed
// send` and `hookfeed tail` reach the edge through it, trusting that CA by SSL_CERT_FILE.

import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";

import { ROOT, startEdge } from "./support/edge.mjs";
import { makeCertificates, tlsProxy } from "./support/tls.mjs";

const run = promisify(execFile);

describe("the CLI against an https:// edge", () => {
  let edge;
  let proxy;
  let certs;
  const project = String(53000 + Math.floor(Math.random() * 1000));
  const hookfeed = (env, ...args) =>
    run(join(ROOT, "target/debug/hookfeed"), args, { cwd: ROOT, env: { ...process.env, ...env }, timeout: 60_000 });

  before(async () => {
    certs = makeCertificates();
    edge = await startEdge();
    proxy = await tlsProxy(edge.url, certs);
  });
  after(async () => {
    proxy?.close();
    await edge?.stop();
  });

  it("refuses a certificate it cannot verify", async () => {
    // The public roots do not include the test CA: the handshake must fail, not be skipped.
    const failed = await hookfeed({ SSL_CERT_FILE: "" }, "send", "--url", proxy.url, "--source", "twin-actor",
      "--event", "project.processing", "--set", `project_id=${project}`).then(() => null, (e) => e);
    assert.ok(failed, "send succeeded against an untrusted certificate");
    assert.match(failed.stderr, /certificate|UnknownIssuer/i);
  });

  it("sends a signed delivery over https", async () => {
    const { stdout } = await hookfeed({ SSL_CERT_FILE: certs.ca }, "send", "--url", proxy.url, "--source", "twin-actor",
      "--event", "project.processing", "--set", `project_id=${project}`, "--set", "progress=30", "--json");
    assert.match(stdout, /"received":\s*true/);
  });

  it("tails the document over wss, for the server's tenant: its snapshot, then a change", async () => {
    const tail = spawn(join(ROOT, "target/debug/hookfeed"),
      ["tail", "--url", proxy.url, "--doc", `projects/${project}`, "--max-events", "1", "--timeout", "30"],
      { cwd: ROOT, env: { ...process.env, SSL_CERT_FILE: certs.ca } });
    let stdout = "";
    let stderr = "";
    tail.stdout.on("data", (d) => { stdout += d; });
    tail.stderr.on("data", (d) => { stderr += d; });
    const exited = new Promise((resolve) => tail.on("exit", resolve));
    // The snapshot shows the document as the https delivery left it.
    const deadline = Date.now() + 30_000;
    while (!new RegExp(`snapshot projects/${project} .*"progress":30`).test(stdout)) {
      assert.ok(Date.now() < deadline, `no snapshot from tail over wss; stdout: ${stdout}; stderr: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await hookfeed({ SSL_CERT_FILE: certs.ca }, "send", "--url", proxy.url, "--source", "twin-actor",
      "--event", "project.processing", "--set", `project_id=${project}`, "--set", "progress=60");
    assert.equal(await exited, 0, stderr);
    assert.match(stdout, new RegExp(`modified projects/${project} .*progress=60`), stdout);
    // Without --tenant, tail asked the server's /healthz (over https too) for its tenant.
    assert.match(stderr, /token for tenant `demo` \(the only one the server feeds\)/, stderr);
  });
});
