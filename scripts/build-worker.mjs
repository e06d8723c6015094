// Builds the Worker as `worker-build --release` 0.8.7 does, without compiling worker-build
// (a Rust CLI that took 4-5 minutes to `cargo install` on a fresh machine). Run by
// scripts/build-worker.sh, which decides whether a build is needed; needs the wasm-bindgen
// CLI pinned to Cargo.lock (WASM_BINDGEN_BIN), binaryen's wasm-opt (WASM_OPT_BIN) and the
// npm esbuild (the version worker-build 0.8.7 downloads, 0.28.2).
//
// The steps and their outputs are those of worker-build 0.8.7 (src/main.rs, src/build/mod.rs,
// src/producers.rs; https://github.com/cloudflare/workers-rs, Apache License 2.0, see
// scripts/worker-shim/LICENSE), ported to Node for this one crate:
//   1. cargo build --lib --release --target wasm32-unknown-unknown, WASM_BINDGEN_USE_JS_SYS=1
//   2. wasm-bindgen --target module --out-name index --no-typescript
//      --experimental-reset-state-function --force-enable-abort-handler (panic recovery)
//   3. wasm-opt with the crate's [package.metadata.wasm-pack.profile.release] wasm-opt args
//      plus worker-build's explicit feature list and --debuginfo
//   4. package.json; the producers section gets "sdk: workers-rs 0.8.7"
//   5. shim.js from scripts/worker-shim/shim.js (handlers, Durable Object class proxies),
//      bundled by esbuild into index.js; `import source` → `import`; worker/shim.mjs alias
// Everything is staged in build/.tmp and moved into build/ at the end, as worker-build does.
// Not ported (this crate uses none): --panic-unwind, --emscripten, CUSTOM_SHIM,
// --no-panic-recovery (the legacy shim), COREDUMP. Honoured: NO_MINIFY, RUN_TO_COMPLETION.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CRATE_DIR = join(ROOT, "crates/hookfeed-worker");
const OUT_DIR = join(CRATE_DIR, "build");
const STAGING = join(OUT_DIR, ".tmp");
// The worker-build release whose output this reproduces; the `worker` crate must be of the
// same minor release (worker-build refuses others too: the shim calls its exports).
const WORKER_BUILD_VERSION = "0.8.7";

const bin = (name, fallback) => process.env[name] || fallback;
const WASM_BINDGEN = bin("WASM_BINDGEN_BIN", join(process.env.CARGO_HOME || join(process.env.HOME, ".cargo"), "bin/wasm-bindgen"));
const WASM_OPT = bin("WASM_OPT_BIN", join(ROOT, "node_modules/binaryen/bin/wasm-opt"));
const ESBUILD = bin("ESBUILD_BIN", join(ROOT, "node_modules/.bin/esbuild"));

function fail(message) {
  process.stderr.write(`\x1b[31merror:\x1b[0m ${message}\n`);
  process.exit(1);
}

function run(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { stdio: "inherit", ...options });
  if (result.error) fail(`could not run ${cmd}: ${result.error.message}`);
  if (result.status !== 0) fail(`${cmd} ${args.join(" ")} exited with ${result.status ?? result.signal}`);
  return result;
}

function lockedVersion(name) {
  const lock = readFileSync(join(ROOT, "Cargo.lock"), "utf8");
  const match = lock.match(new RegExp(`\\nname = "${name}"\\nversion = "([^"]+)"`));
  return match?.[1];
}

// --- checks worker-build makes before building -------------------------------------------
const workerVersion = lockedVersion("worker");
const [wbMajor, wbMinor] = WORKER_BUILD_VERSION.split(".");
if (!workerVersion || workerVersion.split(".").slice(0, 2).join(".") !== `${wbMajor}.${wbMinor}`) {
  fail(`Cargo.lock has worker ${workerVersion}, but scripts/build-worker.mjs reproduces worker-build ${WORKER_BUILD_VERSION}: ` +
    `update scripts/worker-shim/shim.js and this script from that worker-build release first`);
}
const bindgenVersion = lockedVersion("wasm-bindgen");
const cliVersion = spawnSync(WASM_BINDGEN, ["--version"], { encoding: "utf8" }).stdout?.trim().split(" ")[1];
if (cliVersion !== bindgenVersion) {
  fail(`the wasm-bindgen CLI (${WASM_BINDGEN}) is ${cliVersion ?? "missing"}, Cargo.lock has wasm-bindgen ${bindgenVersion}: ` +
    `run 'npm run dev' or 'npm test' once to install it`);
}

const metadata = JSON.parse(run("cargo", ["metadata", "--no-deps", "--format-version", "1"], {
  cwd: CRATE_DIR, stdio: ["ignore", "pipe", "inherit"], encoding: "utf8", maxBuffer: 64 << 20,
}).stdout);
const pkg = metadata.packages.find((p) => p.manifest_path === join(CRATE_DIR, "Cargo.toml"));
if (!pkg) fail(`cargo metadata does not list ${CRATE_DIR}/Cargo.toml`);
const profile = pkg.metadata?.["wasm-pack"]?.profile?.release ?? {};
const bindgenProfile = { "debug-js-glue": false, "demangle-name-section": true, "dwarf-debug-info": false,
  "omit-default-module-path": false, "split-linked-modules": false, ...(profile["wasm-bindgen"] ?? {}) };
const wasmOptSetting = profile["wasm-opt"] ?? true;
const wasmOptArgs = wasmOptSetting === false ? null : wasmOptSetting === true ? ["-O"] : [...wasmOptSetting];

// --- 1. the wasm -------------------------------------------------------------------------
console.log("[build-worker] cargo build --lib --release --target wasm32-unknown-unknown");
run("cargo", ["build", "--lib", "--release", "--target", "wasm32-unknown-unknown"], {
  cwd: CRATE_DIR,
  // Tells wasm-bindgen's proc-macro to use js_sys's futures, as worker-build does.
  env: { ...process.env, WASM_BINDGEN_USE_JS_SYS: "1" },
});
const wasmIn = join(metadata.target_directory, "wasm32-unknown-unknown", "release", `${pkg.name.replaceAll("-", "_")}.wasm`);

// --- staging directory (worker-build's build lock, without the wait for a concurrent build)
rmSync(STAGING, { recursive: true, force: true });
mkdirSync(STAGING, { recursive: true });
writeFileSync(join(STAGING, ".gitignore"), "*");

// --- 2. wasm-bindgen -----------------------------------------------------------------------
const bindgenArgs = [wasmIn, "--out-dir", STAGING, "--no-typescript", "--target", "module", "--out-name", "index"];
if (bindgenProfile["debug-js-glue"]) bindgenArgs.push("--debug");
if (!bindgenProfile["demangle-name-section"]) bindgenArgs.push("--no-demangle");
if (bindgenProfile["dwarf-debug-info"]) bindgenArgs.push("--keep-debug");
if (bindgenProfile["omit-default-module-path"]) bindgenArgs.push("--omit-default-module-path");
if (bindgenProfile["split-linked-modules"]) bindgenArgs.push("--split-linked-modules");
bindgenArgs.push("--experimental-reset-state-function", "--force-enable-abort-handler");
console.log(`[build-worker] wasm-bindgen ${cliVersion}`);
run(WASM_BINDGEN, bindgenArgs);

// --- 3. wasm-opt ---------------------------------------------------------------------------
if (wasmOptArgs) {
  // worker-build's explicit feature list (not --all-features, so that binaryen never emits
  // an encoding workerd does not support yet), and --debuginfo to keep the names section.
  const features = ["mutable-globals", "sign-ext", "nontrapping-float-to-int", "bulk-memory",
    "multivalue", "reference-types", "exception-handling"].map((f) => `--enable-${f}`);
  console.log(`[build-worker] wasm-opt ${wasmOptArgs.join(" ")}`);
  for (const file of readdirSync(STAGING).filter((f) => f.endsWith(".wasm"))) {
    const path = join(STAGING, file);
    const tmp = path.replace(/\.wasm$/, ".wasm-opt.wasm");
    run(WASM_OPT, [path, "-o", tmp, ...wasmOptArgs, ...features, "--debuginfo"]);
    renameSync(tmp, path);
  }
}

// --- 4. package.json (worker-build writes it, then rewrites files/main/sideEffects; serde_json
// without preserve_order sorts the keys) and the producers section ---------------------------
const existingDeps = existsSync(join(STAGING, "package.json"))
  ? JSON.parse(readFileSync(join(STAGING, "package.json"), "utf8")) : undefined;
const packageJson = {
  name: pkg.name,
  type: "module",
  ...(pkg.authors.length ? { collaborators: pkg.authors } : {}),
  ...(pkg.description != null ? { description: pkg.description } : {}),
  version: pkg.version,
  ...(pkg.license != null ? { license: pkg.license }
    : pkg.license_file != null ? { license: `SEE LICENSE IN ${pkg.license_file}` } : {}),
  ...(pkg.repository != null ? { repository: { type: "git", url: pkg.repository } } : {}),
  files: ["index_bg.wasm", "index.js", "index.d.ts"],
  main: "index.js",
  ...(pkg.homepage != null ? { homepage: pkg.homepage } : {}),
  sideEffects: ["./index.js"],
  ...(pkg.keywords.length ? { keywords: pkg.keywords } : {}),
  ...(existingDeps ? { dependencies: existingDeps } : {}),
};
const sortKeys = (value) => Array.isArray(value) ? value.map(sortKeys)
  : value && typeof value === "object"
    ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys(value[k])])) : value;
writeFileSync(join(STAGING, "package.json"), JSON.stringify(sortKeys(packageJson), null, 2));

for (const file of readdirSync(STAGING).filter((f) => f.endsWith(".wasm"))) {
  const path = join(STAGING, file);
  writeFileSync(path, withProducer(readFileSync(path), "sdk", "workers-rs", WORKER_BUILD_VERSION));
}

// --- 5. the shim, bundled --------------------------------------------------------------------
const indexPath = join(STAGING, "index.js");
const glue = readFileSync(indexPath, "utf8");
const SYSTEM_FNS = ["__wbg_reset_state", "__worker_init_state"];
// Each `export` declaration, starting at the keyword (wasm-bindgen writes one per line).
const exportDecls = [...glue.matchAll(/export /g)]
  .filter((m) => m.index === 0 || /[\s;}]/.test(glue[m.index - 1]))
  .map((m) => glue.slice(m.index));

const funcNames = [];
const classNames = [];
for (const decl of exportDecls) {
  let m;
  if ((m = decl.match(/^export (?:async )?function([^(]*)\(/))) {
    const name = m[1].trim();
    if (!SYSTEM_FNS.includes(name)) funcNames.push(name);
  } else if (decl.startsWith("export {")) {
    const rest = decl.slice("export {".length);
    const as = rest.indexOf(" as ");
    if (as >= 0) {
      const after = rest.slice(as + 4);
      const brace = after.indexOf("}");
      if (brace >= 0 && !SYSTEM_FNS.includes(after.slice(0, brace).trim())) funcNames.push(after.slice(0, brace).trim());
    }
  }
  if ((m = decl.match(/^export class ([^{]*)\{/))) {
    classNames.push(m[1].trim());
  } else if ((m = decl.match(/^export var ([^=]*)=(.*)/s)) && m[2].trimStart().startsWith("class")) {
    classNames.push(m[1].trim());
  }
}

let handlers = "";
for (const name of funcNames) {
  if (name === "fetch" && process.env.RUN_TO_COMPLETION !== undefined) {
    handlers += `Entrypoint.prototype.fetch = async function fetch(request) {
  let response = exports.fetch(request, this.env, this.ctx);
  this.ctx.waitUntil(response);
  return response;
}
`;
  } else if (["fetch", "queue", "scheduled", "email", "connect"].includes(name)) {
    handlers += `Entrypoint.prototype.${name} = function ${name} (arg) {
  return exports.${name}.call(this, arg, this.env, this.ctx);
}
`;
  } else {
    handlers += `Entrypoint.prototype.${name} = exports.${name};\n`;
  }
}

const template = readFileSync(join(ROOT, "scripts/worker-shim/shim.js"), "utf8");
if (!template.includes("\n$HANDLERS\n")) fail("scripts/worker-shim/shim.js has lost its $HANDLERS line");
let shim = template.replace("\n$HANDLERS\n", () => `\n${handlers}\n`);
for (const name of classNames) {
  shim += `export const ${name} = new Proxy(exports.${name}, classProxyHooks);\n`;
}
writeFileSync(join(STAGING, "shim.js"), shim);

console.log(`[build-worker] esbuild: handlers ${funcNames.join(", ") || "none"}; classes ${classNames.join(", ") || "none"}`);
run(ESBUILD, ["--external:./index_bg.wasm", "--external:cloudflare:*", "--format=esm", "--bundle", "./shim.js",
  "--outfile=index.js", "--allow-overwrite", ...(process.env.NO_MINIFY === undefined ? ["--minify"] : [])], { cwd: STAGING });
writeFileSync(indexPath, readFileSync(indexPath, "utf8").replaceAll("import source ", "import "));

rmSync(join(STAGING, "shim.js"));
rmSync(join(STAGING, "snippets"), { recursive: true, force: true });
mkdirSync(join(STAGING, "worker"));
writeFileSync(join(STAGING, "worker/shim.mjs"), `// Use index.js directly, this file provided for backwards compat
// with former shim.mjs only.
export * from '../index.js';
export { default } from '../index.js';
`);

// --- into place ------------------------------------------------------------------------------
for (const entry of readdirSync(STAGING)) {
  rmSync(join(OUT_DIR, entry), { recursive: true, force: true });
  renameSync(join(STAGING, entry), join(OUT_DIR, entry));
}
rmSync(STAGING, { recursive: true, force: true });
console.log(`[build-worker] ${OUT_DIR}/index.js, index_bg.wasm`);

// The wasm with `field: name version` merged into its producers custom section (added at the
// end when there is none; an entry already there for field and name is kept).
function withProducer(bytes, field, name, version) {
  if (bytes.length < 8 || bytes.readUInt32LE(0) !== 0x6d736100 || bytes.readUInt32LE(4) !== 1) {
    throw new Error("invalid wasm header");
  }
  const leb = (pos) => {
    let result = 0, shift = 0;
    for (;;) {
      const byte = bytes[pos.at++];
      if (byte === undefined || shift >= 32) throw new Error("invalid LEB128 value");
      result += (byte & 0x7f) * 2 ** shift;
      if (!(byte & 0x80)) return result;
      shift += 7;
    }
  };
  const str = (pos) => {
    const len = leb(pos);
    const s = bytes.toString("utf8", pos.at, pos.at + len);
    pos.at += len;
    return s;
  };
  let section; // { start, end, contentStart }
  const pos = { at: 8 };
  while (pos.at < bytes.length) {
    const start = pos.at;
    const id = bytes[pos.at++];
    const len = leb(pos);
    const end = pos.at + len;
    if (id === 0) {
      const sectionName = str(pos);
      if (sectionName === "producers") { section = { start, end, contentStart: pos.at }; break; }
    }
    pos.at = end;
  }
  const entries = [];
  if (section) {
    const p = { at: section.contentStart };
    for (let fields = leb(p); fields > 0; fields--) {
      const f = str(p);
      for (let values = leb(p); values > 0; values--) entries.push({ field: f, name: str(p), version: str(p) });
    }
    if (p.at !== section.end) throw new Error("invalid producers section");
  }
  if (!entries.some((e) => e.field === field && e.name === name)) entries.push({ field, name, version });

  const encLeb = (n) => { const out = []; do { let b = n & 0x7f; n >>>= 7; if (n) b |= 0x80; out.push(b); } while (n); return out; };
  const encStr = (s) => { const b = Buffer.from(s, "utf8"); return [...encLeb(b.length), ...b]; };
  const fields = [...new Set(entries.map((e) => e.field))];
  const content = [...encLeb(fields.length)];
  for (const f of fields) {
    const list = entries.filter((e) => e.field === f);
    content.push(...encStr(f), ...encLeb(list.length));
    for (const e of list) content.push(...encStr(e.name), ...encStr(e.version));
  }
  const payload = [...encStr("producers"), ...content];
  const encoded = Buffer.from([0, ...encLeb(payload.length), ...payload]);
  return section
    ? Buffer.concat([bytes.subarray(0, section.start), encoded, bytes.subarray(section.end)])
    : Buffer.concat([bytes, encoded]);
}
