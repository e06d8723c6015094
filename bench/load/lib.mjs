// Helpers for bench/load/run.mjs: signing, tokens, statistics, /proc CPU accounting,
// wrangler dev lifecycle, HTTP and WebSocket clients. Node 22, no dependencies.

import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { openSync, closeSync, readFileSync, readdirSync, readlinkSync, mkdtempSync, rmSync, existsSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { mintToken as mintWith } from "../../tests/support/dev-vars.mjs";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const BIN = join(ROOT, "node_modules/.bin");

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Wall clock in ms with sub-ms precision (comparable across the driver's own timestamps). */
export const nowMs = () => Math.round((performance.timeOrigin + performance.now()) * 1000) / 1000;

export function log(...parts) {
  process.stderr.write(`[load ${new Date().toISOString().slice(11, 19)}] ${parts.join(" ")}\n`);
}

// ---------------------------------------------------------------------------------------
// Configuration read from the repo

// The same reading of .dev.vars and minting of tokens as the end-to-end tests.
export { readDevVars } from "../../tests/support/dev-vars.mjs";

// ---------------------------------------------------------------------------------------
// Statistics

export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export function summarize(values) {
  const s = Float64Array.from(values).sort();
  return {
    n: s.length,
    p50: percentile(s, 50),
    p99: percentile(s, 99),
    max: s.length ? s[s.length - 1] : null,
    mean: s.length ? s.reduce((a, b) => a + b, 0) / s.length : null,
  };
}

/** `f()`, or null when it throws or gives undefined (a figure a failed phase lacks). */
export function safeGet(f) {
  try {
    const v = f();
    return v === undefined ? null : v;
  } catch {
    return null;
  }
}

export function median(values) {
  const v = values.filter((x) => typeof x === "number" && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

export const round = (x, digits = 3) => (x === null || x === undefined || !Number.isFinite(x) ? x : Number(x.toFixed(digits)));

// ---------------------------------------------------------------------------------------
// Twin.Actor deliveries and hookfeed tokens

const PAD = "Scene notes: a presenter walks through the quarterly numbers in front of a bright studio backdrop. ";

/**
 * A twin-actor `project.*` delivery of about `bytes` bytes, signed as the provider signs:
 * `X-Webhook-Signature: t=<unix>,v1=hex(HMAC-SHA256(secret, "<t>.<raw body>"))`.
 */
export function twinActorDelivery({ secret, id, type, projectId, createdAt, progress, extra = {}, bytes = 1024 }) {
  const data = {
    project_id: projectId,
    project_type: "scene_project",
    ...(progress === undefined ? {} : { progress }),
    video_url: `https://storage.twin.actor/videos/project_${projectId}_final.mp4`,
    thumbnail_url: `https://storage.twin.actor/thumbs/project_${projectId}.jpg`,
    duration_seconds: 50,
    credits_used: 500,
    person_id: 1,
    person_name: "Alex Chen",
    ...extra,
    notes: "",
  };
  const event = { id, type, created_at: new Date(createdAt).toISOString(), data };
  const base = Buffer.byteLength(JSON.stringify(event));
  const want = Math.max(0, bytes - base);
  data.notes = PAD.repeat(Math.ceil(want / PAD.length) + 1).slice(0, want);
  const body = JSON.stringify(event);
  return { body, headers: signTwinActor(secret, body, id, type) };
}

export function signTwinActor(secret, body, id, type, t = Math.floor(Date.now() / 1000)) {
  const sig = createHmac("sha256", secret).update(`${t}.`).update(body).digest("hex");
  return {
    "content-type": "application/json",
    "x-webhook-signature": `t=${t},v1=${sig}`,
    "x-webhook-id": id,
    "x-webhook-event": type,
  };
}

/** A subscriber token for `secret`, living 6 hours by default (a benchmark outlasts the tests' hour). */
export function mintToken(secret, { tenant = "demo", scopes = ["*"], ttlSecs = 6 * 3600 } = {}) {
  return mintWith(secret, { tenant, scopes, ttlSecs });
}

// ---------------------------------------------------------------------------------------
// /proc: process tree, CPU time, listening ports, fd limits

const CLK_TCK = 100; // getconf CLK_TCK on Linux x86-64

function procStat(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
    // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
    return { ppid: Number(rest[1]), utime: Number(rest[11]), stime: Number(rest[12]) };
  } catch {
    return null;
  }
}

function cmdline(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return [];
  }
}

export function descendants(rootPid) {
  const children = new Map();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const st = procStat(name);
    if (!st) continue;
    const pid = Number(name);
    if (!children.has(st.ppid)) children.set(st.ppid, []);
    children.get(st.ppid).push(pid);
  }
  const out = [];
  const stack = [rootPid];
  while (stack.length) {
    const pid = stack.pop();
    out.push(pid);
    for (const c of children.get(pid) ?? []) stack.push(c);
  }
  return out;
}

/** CPU milliseconds (user + system, all threads) of a process, or null once it is gone. */
export function cpuMs(pid) {
  const st = procStat(pid);
  return st ? ((st.utime + st.stime) * 1000) / CLK_TCK : null;
}

export function maxOpenFiles() {
  try {
    const line = readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    const [soft, hard] = line.trim().split(/\s+/).slice(3, 5);
    return { soft: soft === "unlimited" ? Infinity : Number(soft), hard: hard === "unlimited" ? Infinity : Number(hard) };
  } catch {
    return { soft: 1024, hard: 1024 };
  }
}

export function openFds(pid) {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

/** TCP ports process `pid` listens on (from /proc/net/tcp and its socket fds). */
export function listeningPorts(pid) {
  const inodes = new Set();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = readlinkSync(`/proc/${pid}/fd/${fd}`).match(/^socket:\[(\d+)\]$/);
        if (m) inodes.add(m[1]);
      } catch {}
    }
  } catch {
    return [];
  }
  const ports = [];
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== "0A") continue; // 0A = LISTEN
      if (inodes.has(f[9])) ports.push(parseInt(f[1].split(":")[1], 16));
    }
  }
  return ports;
}

export async function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

// ---------------------------------------------------------------------------------------
// wrangler dev

/**
 * Starts `wrangler dev` for an edge on free ports with a fresh --persist-to directory and
 * waits until GET /healthz answers 200. Returns a handle with the processes to account.
 */
export async function startWrangler({ name, configArgs, cwd = ROOT, readyTimeoutMs, logLevel }) {
  const port = await freePort();
  const inspectorPort = await freePort();
  // An edge name may carry settings (`hookfeed:HOOKFEED_HUBS={"*":8}`): not in a file name.
  const persist = mkdtempSync(join(tmpdir(), `hookfeed-load-${name.replace(/[^\w.=-]+/g, "_")}-`));
  const logPath = `${persist}.log`;
  const logFd = openSync(logPath, "a");
  const args = [
    "dev",
    ...configArgs,
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--inspector-port",
    String(inspectorPort),
    "--persist-to",
    persist,
    "--show-interactive-dev-session=false",
    ...(logLevel ? ["--log-level", logLevel] : []),
  ];
  const { hard } = maxOpenFiles();
  const limit = Number.isFinite(hard) ? hard : 65536;
  const quoted = args.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  // The shell raises the soft fd limit for wrangler and both workerd processes, then execs.
  const child = spawn("bash", ["-c", `ulimit -n ${limit} 2>/dev/null || true; exec "${BIN}/wrangler" ${quoted}`], {
    cwd,
    detached: true, // own process group: stop() signals exactly what we started
    stdio: ["ignore", logFd, logFd],
    env: { ...process.env, PATH: `${BIN}:${process.env.PATH}`, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
  });
  closeSync(logFd);
  let exited = null;
  child.on("exit", (code, signal) => (exited = { code, signal }));
  const handle = {
    name,
    port,
    inspectorPort,
    persist,
    logPath,
    pid: child.pid,
    base: `http://127.0.0.1:${port}`,
    wsBase: `ws://127.0.0.1:${port}`,
    exited: () => exited,
    stop: () => stopWrangler(handle, child),
  };
  const deadline = Date.now() + readyTimeoutMs;
  let lastNote = 0;
  while (true) {
    if (exited) throw new Error(`wrangler dev for ${name} exited (${JSON.stringify(exited)}); log: ${logPath}\n${tail(logPath)}`);
    try {
      const r = await fetch(`${handle.base}/healthz`, { signal: AbortSignal.timeout(3000) });
      await r.arrayBuffer();
      if (r.status === 200) break;
    } catch {}
    if (Date.now() > deadline) {
      await handle.stop();
      throw new Error(`wrangler dev for ${name} not healthy after ${readyTimeoutMs / 1000} s; log: ${logPath}\n${tail(logPath)}`);
    }
    if (Date.now() - lastNote > 30000) {
      lastNote = Date.now();
      log(`waiting for ${name} on :${port} (/healthz), log ${logPath}`);
    }
    await sleep(500);
  }
  identifyProcesses(handle);
  return handle;
}

/** Finds wrangler's node process and its two workerd processes: the proxy and the runtime. */
export function identifyProcesses(handle) {
  const tree = descendants(handle.pid);
  const procs = { wrangler: [], proxy: [], runtime: [] };
  for (const pid of tree) {
    const argv = cmdline(pid);
    const exe = argv[0] ?? "";
    if (exe.endsWith("/workerd") || exe === "workerd") {
      const entry = argv.find((a) => a.startsWith("--socket-addr=entry="));
      if (entry === `--socket-addr=entry=127.0.0.1:${handle.port}`) procs.proxy.push(pid);
      else procs.runtime.push(pid);
    } else if (argv.some((a) => a.includes("wrangler"))) {
      procs.wrangler.push(pid);
    }
  }
  handle.procs = procs;
  return procs;
}

/** Port of the runtime workerd's entry socket (serving the user worker without wrangler's proxy). */
export async function findDirectPort(handle) {
  for (const pid of handle.procs.runtime) {
    for (const port of listeningPorts(pid)) {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) });
        await r.arrayBuffer();
        if (r.status === 200) return port;
      } catch {}
    }
  }
  return null;
}

/** Busy CPU ms of the whole machine (all cores) from /proc/stat. */
export function machineBusyMs() {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal …
    const busy = f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] ?? 0);
    return (busy * 1000) / CLK_TCK;
  } catch {
    return null;
  }
}

export function loadAverage() {
  try {
    return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).map(Number);
  } catch {
    return null;
  }
}

/** CPU ms of each role, summed over its processes. */
export function cpuSnapshot(handle) {
  const snap = { at: nowMs(), driver: process.cpuUsage(), machine: machineBusyMs() };
  for (const [role, pids] of Object.entries(handle.procs)) {
    snap[role] = pids.reduce((acc, pid) => acc + (cpuMs(pid) ?? 0), 0);
  }
  return snap;
}

export function cpuDelta(before, after) {
  const d = { wallMs: after.at - before.at };
  for (const role of ["runtime", "proxy", "wrangler"]) d[role] = after[role] - before[role];
  d.driver = (after.driver.user - before.driver.user + after.driver.system - before.driver.system) / 1000;
  // Everything else on the machine meanwhile (other engineers' builds, other wranglers):
  // a noise indicator, not part of any figure.
  if (before.machine !== null && after.machine !== null)
    d.other = Math.max(0, Math.round(after.machine - before.machine - d.runtime - d.proxy - d.wrangler - d.driver));
  return d;
}

function tail(path, lines = 30) {
  try {
    return readFileSync(path, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

async function stopWrangler(handle, child) {
  const all = descendants(handle.pid);
  if (child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(-handle.pid, "SIGINT");
    } catch {}
    const deadline = Date.now() + 10000;
    while (child.exitCode === null && child.signalCode === null && Date.now() < deadline) await sleep(100);
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-handle.pid, "SIGKILL");
      } catch {}
    }
  }
  // Anything of ours still alive (a workerd that left the group): end it by pid.
  await sleep(300);
  for (const pid of all) {
    if (pid !== process.pid && procStat(pid)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
  }
  try {
    rmSync(handle.persist, { recursive: true, force: true });
  } catch {}
}

// ---------------------------------------------------------------------------------------
// HTTP

/**
 * POSTs a signed delivery (to `path`, default /hooks/twin-actor; `method` for another
 * request); resolves with status, parsed JSON and latency in ms.
 */
export async function postDelivery(base, { body, headers, path = "/hooks/twin-actor", method = "POST" }) {
  const t0 = nowMs();
  try {
    const r = await fetch(`${base}${path}`, { method, headers, body, signal: AbortSignal.timeout(30000) });
    const text = await r.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {}
    return { status: r.status, json, text, ms: nowMs() - t0 };
  } catch (e) {
    return { status: 0, json: null, text: String(e?.cause?.message ?? e), ms: nowMs() - t0 };
  }
}

/** `GET /healthz` as JSON (with the admin token, which the post-move edge wants outside dev mode). */
export async function getHealthz(base, adminToken) {
  const headers = adminToken ? { authorization: `Bearer ${adminToken}` } : {};
  const r = await fetch(`${base}/healthz`, { headers, signal: AbortSignal.timeout(30000) });
  const text = await r.text();
  try {
    return JSON.parse(text);
  } catch {
    return { status: r.status, text: text.slice(0, 300) };
  }
}

/** The first tenant's `database_bytes` and `events` from a /healthz answer. */
export function feedStorage(health, tenant = "demo") {
  const feed = health?.feeds?.[tenant] ?? Object.values(health?.feeds ?? {})[0];
  return { databaseBytes: feed?.database_bytes ?? null, events: feed?.events ?? null };
}

/** Runs `tasks` (functions returning promises) with at most `concurrency` in flight. */
export async function pool(tasks, concurrency) {
  const results = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, tasks.length) }, worker));
  return results;
}

// ---------------------------------------------------------------------------------------
// WebSocket subscribers (Node 22's global WebSocket)

/** The subprotocols a subscriber offers to read batched frames (hookfeed-wire's `BATCH_SUBPROTOCOL`). */
export const BATCH_PROTOCOLS = ["hookfeed.batch", "hookfeed"];

/**
 * One subscriber: a socket listening to `doc` with listen id 1. Resolves once the snapshot
 * arrived. `onChange(frame, receivedAt)` sees every change message, also those of a batched
 * frame (a JSON array of messages, sent to a socket that offered `protocols` with
 * BATCH_PROTOCOLS); `sub.frames` counts frames.
 */
export function openSubscriber(url, doc, onChange, { timeoutMs = 30000, protocols } = {}) {
  const sub = { ws: null, doc, snapshot: null, changes: 0, frames: 0, errors: [], closed: false, listens: 1, pending: new Map() };
  /** Another listen on this socket; resolves with its snapshot (or null on error/timeout). */
  sub.listen = (id, target, ms = 30000) =>
    new Promise((res) => {
      const t = setTimeout(() => {
        sub.pending.delete(id);
        res(null);
      }, ms);
      sub.pending.set(id, (frame) => {
        clearTimeout(t);
        sub.pending.delete(id);
        if (frame.type === "snapshot") sub.listens++;
        res(frame.type === "snapshot" ? frame : null);
      });
      sub.ws.send(JSON.stringify({ type: "listen", id, target: { doc: target } }));
    });
  return openSocket(url, sub, {
    timeoutMs,
    waitingFor: "the snapshot",
    onOpen: (ws) => ws.send(JSON.stringify({ type: "listen", id: 1, target: { doc } })),
    protocols,
    onMessage: (ev, done) => {
      const received = nowMs();
      let parsed;
      try {
        parsed = JSON.parse(ev.data);
      } catch {
        sub.errors.push("non-JSON frame");
        return;
      }
      sub.frames++;
      for (const frame of Array.isArray(parsed) ? parsed : [parsed]) onMessage(frame, received, done);
    },
    onError: (ev) => sub.errors.push(String(ev?.message ?? "error")),
    onDone: (ok, ms) => {
      sub.connectMs = ms;
      if (!ok) {
        try {
          sub.ws?.close();
        } catch {}
      }
    },
  });

  /** One server message, alone or from a batched frame. */
  function onMessage(frame, received, done) {
    if (frame.type === "change") {
      sub.changes++;
      onChange(frame, received, sub);
    } else if (sub.pending.has(frame.id)) {
      if (frame.type === "error") sub.errors.push(`${frame.code}: ${frame.message}`);
      sub.pending.get(frame.id)(frame);
    } else if (frame.type === "snapshot") {
      sub.snapshot = frame;
      done(true);
    } else if (frame.type === "error") {
      sub.errors.push(`${frame.code}: ${frame.message}`);
      done(false, `${frame.code}: ${frame.message}`);
    }
  }
}

/**
 * Opens a WebSocket to `url` into `state` (its `ws`, and `ok`, `error` and `closed` once
 * known) and resolves with `state` when `onMessage(event, done)` calls `done(true)`, or with
 * `ok` false after an error, a close or `timeoutMs` without it (`waitingFor` says for what).
 * `onOpen(ws, ms)` and `onDone(ok, ms)` get the time since the connect began.
 */
export function openSocket(url, state, { timeoutMs, waitingFor, onOpen, onMessage, onError, onDone, protocols }) {
  return new Promise((resolveOpen) => {
    const t0 = nowMs();
    let settled = false;
    const done = (ok, why) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      state.ok = ok;
      if (!ok) state.error = why;
      onDone?.(ok, nowMs() - t0);
      resolveOpen(state);
    };
    const timer = setTimeout(() => done(false, `timeout waiting for ${waitingFor}`), timeoutMs);
    let ws;
    try {
      ws = protocols ? new WebSocket(url, protocols) : new WebSocket(url);
    } catch (e) {
      done(false, String(e));
      return;
    }
    state.ws = ws;
    ws.onopen = () => onOpen(ws, nowMs() - t0);
    ws.onmessage = (ev) => onMessage(ev, done);
    ws.onerror = (ev) => {
      onError?.(ev);
      done(false, `socket error: ${ev?.message ?? "?"}`);
    };
    ws.onclose = (ev) => {
      state.closed = true;
      done(false, `closed ${ev.code} ${ev.reason}`);
    };
  });
}

/** Closes sockets and waits (bounded) for them to finish closing. */
export async function closeAll(subs, timeoutMs = 10000) {
  const pending = [];
  for (const s of subs) {
    if (!s.ws || s.closed) continue;
    pending.push(
      new Promise((r) => {
        s.ws.onclose = () => {
          s.closed = true;
          r();
        };
        s.ws.onerror = () => r();
        try {
          s.ws.close(1000, "bench done");
        } catch {
          r();
        }
      }),
    );
  }
  await Promise.race([Promise.all(pending), sleep(timeoutMs)]);
}
