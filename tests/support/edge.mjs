// Starts a real `wrangler dev` (workerd, SQLite-backed Durable Objects) on free ports for
// one test file, and stops it. State persists in `persistTo`, so a test can restart the
// edge and find its documents again.

import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "../..");
const BIN = join(ROOT, "node_modules/.bin");

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

/**
 * Runs `wrangler dev` until `stop()`. Resolves once `/healthz` answers 200.
 * `vars` override wrangler.toml vars and .dev.vars (`--var NAME:value`), e.g. extra sources.
 * `port` reuses a port, so a restarted edge is where its clients reconnect. `ready` says
 * which `/healthz` answer means up (by default a 200; a misconfigured edge answers 500).
 * @param {{ persistTo?: string, vars?: Record<string, string>, port?: number, timeoutMs?: number, ready?: (res: Response) => boolean }} [options]
 */
export async function startEdge(options = {}) {
  // A port found free can be taken again before wrangler binds it (by another test's
  // wrangler, or as the inspector's port): start again on fresh ports, unless the caller
  // chose the port (a restarted edge must be where its clients reconnect).
  for (let attempt = 1; ; attempt++) {
    try {
      return await startEdgeOnce(options);
    } catch (e) {
      if (options.port !== undefined || attempt >= 3 || !/Address already in use/.test(String(e?.message))) throw e;
    }
  }
}

async function startEdgeOnce({ persistTo = mkdtempSync(join(tmpdir(), "hookfeed-state-")), vars = {}, port, timeoutMs = 300_000, ready = (res) => res.ok } = {}) {
  port ??= await freePort();
  let inspectorPort = await freePort();
  while (inspectorPort === port) inspectorPort = await freePort();
  const child = spawn(
    join(BIN, "wrangler"),
    // `--assets www`: the demo page and the browser module, served as `npm run dev` serves them.
    ["dev", "--assets", "www", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspectorPort),
      "--persist-to", persistTo, "--show-interactive-dev-session=false", "--log-level", "info",
      ...Object.entries(vars).flatMap(([name, value]) => ["--var", `${name}:${value}`])],
    {
      cwd: ROOT,
      detached: true,
      env: { ...process.env, PATH: `${BIN}:${process.env.PATH}`, WRANGLER_SEND_METRICS: "false", CI: "true" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  // Never outlive the test process, even when a hook failed before `stop()`.
  const killGroup = () => { try { process.kill(-child.pid, "SIGKILL"); } catch {} };
  process.once("exit", killGroup);
  child.unref();
  let log = "";
  child.stdout.on("data", (d) => { log += d; });
  child.stderr.on("data", (d) => { log += d; });
  child.stdout.unref?.();
  child.stderr.unref?.();
  const exited = new Promise((ok) => child.once("exit", (code) => ok(code)));

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const code = await Promise.race([exited, new Promise((ok) => setTimeout(ok, 250, undefined))]);
    if (code !== undefined) throw new Error(`wrangler dev exited with ${code}:\n${log}`);
    try {
      const res = await fetch(`${url}/healthz`);
      await res.arrayBuffer();
      if (ready(res)) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      process.kill(-child.pid, "SIGKILL");
      throw new Error(`wrangler dev did not become healthy in ${timeoutMs} ms:\n${log}`);
    }
  }

  return {
    url,
    port,
    persistTo,
    /** Everything wrangler printed so far. */
    log: () => log,
    /** Kills wrangler and workerd at once (SIGKILL: no shutdown); resolves once they exited. */
    async kill() {
      if (child.exitCode !== null) return;
      try { process.kill(-child.pid, "SIGKILL"); } catch {}
      await exited;
    },
    /** Stops wrangler and workerd; resolves once they exited. */
    async stop() {
      if (child.exitCode !== null) return;
      process.kill(-child.pid, "SIGTERM");
      const timer = setTimeout(() => { try { process.kill(-child.pid, "SIGKILL"); } catch {} }, 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
