// hookfeed-core's verification compiled to wasm, run in Node, beside Node's own crypto.
//
// For every scheme and a 1 KiB and a 64 KiB body this signs a delivery in JS (each
// provider's documented format), checks that the wasm build accepts it and refuses it
// tampered (so both sides provably agree), then times, interleaved round by round:
//
//   wasm verify    Verifier.verify: the scheme's signature check (bench/wasm-verify)
//   wasm delivery  Verifier.verifyDelivery: signature + replay window + JSON event
//   wasm bare HMAC HMAC-SHA256 of the same signed content inside wasm, nothing else: the
//                  floor under `wasm verify`, to tell SHA-256 speed from the scheme's work
//   node           the providers' documented receiver: parse the header, then
//                  crypto.createHmac('sha256', secret).update(signed content).digest(),
//                  then crypto.timingSafeEqual (and the timestamp tolerance where signed)
//   node + parse   the same, then JSON.parse of the body: the baseline of verifyDelivery
//
// Both sides start from the same inputs per delivery: a plain object of lower-case
// headers (as Node's http hands them out) and the body as a Uint8Array; per call, the
// wasm side reads the headers its scheme needs (as Node's receiver does) into one string
// of `name: value` lines, and the bindings copy it and the body into wasm memory. Both
// set up the HMAC key per delivery (no precomputed key state); both decode a `whsec_` key
// once, at start-up. Node's receiver feeds the body to the HMAC as bytes
// (`.update(`${t}.`).update(body)`), its fastest form of the documented `${t}.${body}`,
// so the baseline is not slowed by building a string.
//
// Figures are medians of BENCH_ROUNDS (default 9) rounds of ~BENCH_ROUND_MS (default 50)
// ms per function; ratios are medians of the per-round ratios, so noise on the shared
// machine moves both sides of a ratio together. Target: wasm verify ≤ 1.5× node at 1 KiB.
//
// Usage: node bench/verify.mjs [--quick]   (after bash bench/build-wasm-verify.sh)
// BENCH_JSON=file appends one JSON object per measured case to that file.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const require = createRequire(import.meta.url);

const quick = process.argv.includes('--quick');
const envNumber = (name, fallback) => {
  const n = Number(process.env[name]);
  return Number.isFinite(n) && n > 0 ? n : fallback;
};
const ROUNDS = Math.floor(envNumber('BENCH_ROUNDS', quick ? 3 : 9));
const ROUND_MS = envNumber('BENCH_ROUND_MS', quick ? 15 : 50);
const TARGET = 1.5;

// The signing time and the verifier's `now`: the same fixed instant as the native bench.
const NOW = 1_767_225_600; // 2026-01-01T00:00:00Z
const SIZES = [1024, 64 * 1024];
const EVENT_ID = 'evt_bench_0001';
const GITHUB_DELIVERY = '72d3162e-cc78-11e3-81ab-4c9367dc0958';

// ---------------------------------------------------------------------------------------
// The wasm builds: `pkg` is the release profile (what ships), `pkg-bench` opt-level 3.

// BENCH_WASM_PKGS=label=dir,label=dir compares other builds instead (the first is the headline).
const builds = (process.env.BENCH_WASM_PKGS
  ? process.env.BENCH_WASM_PKGS.split(',').map((kv) => {
      const [profile, dir] = kv.split('=');
      return { profile, dir: path.resolve(dir) };
    })
  : [
      { profile: 'release', dir: path.join(here, 'wasm-verify', 'pkg') },
      { profile: 'bench', dir: path.join(here, 'wasm-verify', 'pkg-bench') },
    ]
).filter((b) => fs.existsSync(path.join(b.dir, 'hookfeed_bench_wasm.js')));
if (builds.length === 0 || (!process.env.BENCH_WASM_PKGS && builds[0].profile !== 'release')) {
  console.error('bench/wasm-verify/pkg is missing: run `bash bench/build-wasm-verify.sh` first');
  process.exit(1);
}
for (const b of builds) {
  b.module = require(path.join(b.dir, 'hookfeed_bench_wasm.js'));
  b.bytes = fs.statSync(path.join(b.dir, 'hookfeed_bench_wasm_bg.wasm')).size;
  // build.json is written by bench/build-wasm-verify.sh: how this build was made.
  const infoFile = path.join(b.dir, 'build.json');
  b.info = fs.existsSync(infoFile) ? JSON.parse(fs.readFileSync(infoFile, 'utf8')) : {};
  b.what = b.info.describe ?? `${b.profile} profile`;
}

// ---------------------------------------------------------------------------------------
// Schemes: configured secret, sample body, how the provider signs, how its docs verify.

const hmac = (key, ...parts) => {
  const h = crypto.createHmac('sha256', key);
  for (const p of parts) h.update(p);
  return h;
};

// `t=<unix>,v1=<hex>[,v1=…]` (Twin.Actor, Stripe), parsed the way Stripe's manual
// verification guide does it: split on `,`, then on `=`.
function parseTimestamped(value) {
  let t;
  const v1 = [];
  for (const item of value.split(',')) {
    const [key, val] = item.split('=');
    if (key === 't') t = val;
    else if (key === 'v1') v1.push(val);
  }
  return { t, v1 };
}

// The documented receiver of a `t=,v1=` scheme: tolerance, HMAC of `${t}.${body}`, compare.
function verifyTimestampedHex(header, secret, h, body, now) {
  const value = h[header];
  if (!value) return false;
  const { t, v1 } = parseTimestamped(value);
  if (!t || v1.length === 0 || Math.abs(now - Number(t)) > 300) return false;
  const expected = Buffer.from(hmac(secret, `${t}.`, body).digest('hex'));
  let ok = false;
  for (const sig of v1) {
    const given = Buffer.from(sig);
    if (given.length === expected.length && crypto.timingSafeEqual(given, expected)) ok = true;
  }
  return ok;
}

const SCHEMES = [
  {
    name: 'percify',
    sample: 'percify/audio.completed.json',
    secret: 'pcf_bench_secret_0123456789abcdef',
    prefix: '',
    stamp(o) { o.id = EVENT_ID; o.created = rfc3339(NOW); },
    sign(body) {
      return { 'x-percify-signature': hmac(this.secret, body).digest('hex') };
    },
    node(h, body) {
      const sig = h['x-percify-signature'];
      if (!sig) return false;
      const expected = hmac(this.secret, body).digest('hex');
      return sig.length === expected.length && crypto.timingSafeEqual(Buffer.from(sig), Buffer.from(expected));
    },
  },
  {
    name: 'twin-actor',
    sample: 'twin-actor/credits.depleted.json',
    secret: 'ta_bench_secret_0123456789abcdef',
    prefix: `${NOW}.`,
    stamp(o) { o.id = EVENT_ID; o.created_at = rfc3339(NOW); },
    sign(body, o) {
      return {
        'x-webhook-signature': `t=${NOW},v1=${hmac(this.secret, `${NOW}.`, body).digest('hex')}`,
        'x-webhook-id': o.id,
        'x-webhook-event': o.type,
      };
    },
    node(h, body, now) {
      return verifyTimestampedHex('x-webhook-signature', this.secret, h, body, now);
    },
  },
  {
    name: 'standard-webhooks',
    sample: 'standard-webhooks/job.completed.json',
    secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    // The standardwebhooks library decodes the key once, in its constructor.
    get key() { return (this._key ??= Buffer.from(this.secret.slice('whsec_'.length), 'base64')); },
    prefix: `${EVENT_ID}.${NOW}.`,
    stamp(o) { o.timestamp = rfc3339(NOW); },
    sign(body) {
      const sig = hmac(this.key, `${EVENT_ID}.${NOW}.`, body).digest('base64');
      return { 'webhook-id': EVENT_ID, 'webhook-timestamp': String(NOW), 'webhook-signature': `v1,${sig}` };
    },
    node(h, body, now) {
      const id = h['webhook-id'];
      const ts = h['webhook-timestamp'];
      const value = h['webhook-signature'];
      if (!id || !ts || !value || Math.abs(now - Number(ts)) > 300) return false;
      const expected = Buffer.from(hmac(this.key, `${id}.${ts}.`, body).digest('base64'));
      let ok = false;
      for (const item of value.split(' ')) {
        const [version, sig] = item.split(',');
        if (version !== 'v1') continue;
        const given = Buffer.from(sig);
        if (given.length === expected.length && crypto.timingSafeEqual(given, expected)) ok = true;
      }
      return ok;
    },
  },
  {
    name: 'stripe',
    sample: 'stripe/payment_intent.succeeded.json',
    secret: 'whsec_bench_stripe_0123456789abcdef',
    prefix: `${NOW}.`,
    stamp(o) { o.id = EVENT_ID; o.created = NOW; },
    sign(body) {
      return { 'stripe-signature': `t=${NOW},v1=${hmac(this.secret, `${NOW}.`, body).digest('hex')}` };
    },
    node(h, body, now) {
      return verifyTimestampedHex('stripe-signature', this.secret, h, body, now);
    },
  },
  {
    name: 'github',
    sample: 'github/issues.json',
    secret: 'gh_bench_secret_0123456789abcdef',
    padAtRoot: true,
    prefix: '',
    stamp() {},
    sign(body) {
      return {
        'x-hub-signature-256': `sha256=${hmac(this.secret, body).digest('hex')}`,
        'x-github-delivery': GITHUB_DELIVERY,
        'x-github-event': 'issues',
      };
    },
    // GitHub's "Validating webhook deliveries" sample (Node): compare `sha256=<hex>` strings.
    node(h, body) {
      const given = h['x-hub-signature-256'];
      if (!given) return false;
      const trusted = Buffer.from(`sha256=${hmac(this.secret, body).digest('hex')}`, 'ascii');
      const untrusted = Buffer.from(given, 'ascii');
      return trusted.length === untrusted.length && crypto.timingSafeEqual(trusted, untrusted);
    },
  },
];

function rfc3339(secs) {
  return new Date(secs * 1000).toISOString().replace('.000Z', 'Z');
}

// A valid event body of the scheme, padded with a `padding` string to exactly `size` bytes.
function bodyOf(scheme, size) {
  const o = JSON.parse(fs.readFileSync(path.join(root, 'crates/hookfeed-core/samples', scheme.sample), 'utf8'));
  scheme.stamp(o);
  const target = scheme.padAtRoot ? o : (o.data ??= {});
  target.padding = '';
  const bare = Buffer.byteLength(JSON.stringify(o));
  if (bare > size) throw new Error(`${scheme.name} sample is ${bare} bytes, more than ${size}`);
  target.padding = 'x'.repeat(size - bare);
  const body = Buffer.from(JSON.stringify(o));
  if (body.length !== size) throw new Error(`${scheme.name}: body is ${body.length} bytes, not ${size}`);
  return { body: new Uint8Array(body.buffer, body.byteOffset, body.length), object: o };
}

// The headers as wasm takes them: one string of `name: value` lines, built per delivery
// from the headers the scheme reads (`names`, from Verifier.headerNames), or from all.
function headerLines(h, names) {
  let s = '';
  if (names) {
    for (const name of names) {
      const value = h[name];
      if (value !== undefined) s += `${name}: ${value}\n`;
    }
  } else {
    for (const name in h) s += `${name}: ${h[name]}\n`;
  }
  return s;
}

// ---------------------------------------------------------------------------------------
// Timing.

let sink = 0;
function nsPerOp(iters, fn) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) if (fn()) sink++;
  return Number(process.hrtime.bigint() - start) / iters;
}

// Iterations of fn that take about ROUND_MS, found by doubling (this also warms up the JIT).
function calibrate(fn) {
  for (let iters = 1; ; iters *= 2) {
    const ns = nsPerOp(iters, fn) * iters;
    if (ns >= (ROUND_MS * 1e6) / 4) return Math.max(1, Math.ceil((ROUND_MS * 1e6 * iters) / ns));
  }
}

function median(values) {
  const v = [...values].sort((a, b) => a - b);
  const n = v.length;
  return n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Times every function of `fns` (name → fn) interleaved; returns name → per-round ns/op.
function interleaved(fns) {
  const names = Object.keys(fns);
  const iters = Object.fromEntries(names.map((n) => [n, calibrate(fns[n])]));
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < ROUNDS; r++) {
    // Rotate which one goes first, so none always runs on a cold or hot moment.
    for (let k = 0; k < names.length; k++) {
      const n = names[(r + k) % names.length];
      samples[n].push(nsPerOp(iters[n], fns[n]));
    }
  }
  return samples;
}

const ratioOf = (a, b) => median(a.map((x, i) => x / b[i]));

// ---------------------------------------------------------------------------------------

function fail(message) {
  console.error(`\nCROSS-CHECK FAILED: ${message}`);
  process.exit(1);
}

console.error(
  `wasm/node: Node ${process.version}; ${SCHEMES.length} schemes × ${SIZES.length} sizes, ` +
    `${ROUNDS} interleaved rounds of ~${ROUND_MS} ms per function; wasm builds: ` +
    builds.map((b) => `${b.profile} (${(b.bytes / 1024).toFixed(0)} KiB)`).join(', '),
);

const utf8 = new TextDecoder();
const results = [];
for (const scheme of SCHEMES) {
  const verifiers = builds.map((b) => {
    const v = new b.module.Verifier(scheme.name, scheme.secret);
    v.names = v.headerNames().split('\n'); // once, at start-up
    return v;
  });
  for (const size of SIZES) {
    const { body, object } = bodyOf(scheme, size);
    const headers = {
      ...scheme.sign(body, object),
      'content-type': 'application/json',
      'user-agent': 'hookfeed-bench/1',
    };
    // Tamper one byte inside the padding string: still valid JSON, only the MAC can tell.
    const tampered = body.slice();
    tampered[Buffer.from(body).indexOf('xxxxxxxxxxxxxxxx') + 8] = 'y'.charCodeAt(0);
    // For the bare HMAC inside wasm: the signed content's prefix and the MAC sent.
    const prefix = new Uint8Array(Buffer.from(scheme.prefix));
    const key = scheme.key ?? scheme.secret;
    const expected = new Uint8Array(hmac(key, scheme.prefix, body).digest());

    // Cross-check: JS-signed deliveries are accepted by wasm and by the Node receiver,
    // tampered (or stale) ones refused by both.
    const label = `${scheme.name} ${size} B`;
    if (!scheme.node(headers, body, NOW)) fail(`${label}: the Node receiver refuses its own signature`);
    if (scheme.node(headers, tampered, NOW)) fail(`${label}: the Node receiver accepts a tampered body`);
    builds.forEach((b, i) => {
      const v = verifiers[i];
      const all = headerLines(headers);
      const lines = headerLines(headers, v.names);
      const w = `wasm (${b.profile})`;
      if (!v.verify(all, body, NOW)) fail(`${label}: ${w} refuses a JS-signed delivery with all its headers: ${v.explain(all, body, NOW)}`);
      if (!v.verify(lines, body, NOW)) fail(`${label}: ${w} refuses a JS-signed delivery: ${v.explain(lines, body, NOW)}`);
      if (!v.verifyDelivery(lines, body, NOW)) fail(`${label}: ${w} verifyDelivery refuses it: ${v.explain(lines, body, NOW)}`);
      if (v.verify(lines, tampered, NOW)) fail(`${label}: ${w} accepts a tampered body`);
      if (v.verifyDelivery(lines, tampered, NOW)) fail(`${label}: ${w} verifyDelivery accepts a tampered body`);
      const signsTime = scheme.name !== 'percify' && scheme.name !== 'github';
      if (signsTime && v.verify(lines, body, NOW + 301)) fail(`${label}: ${w} accepts a stale timestamp`);
      if (!v.bareHmac(prefix, body, expected) || v.bareHmac(prefix, tampered, expected)) {
        fail(`${label}: ${w} bare HMAC disagrees with Node's`);
      }
    });

    const fns = {
      node: () => scheme.node(headers, body, NOW),
      nodeParse: () => scheme.node(headers, body, NOW) && JSON.parse(utf8.decode(body)) !== null,
    };
    builds.forEach((b, i) => {
      const v = verifiers[i];
      fns[`${b.profile}:verify`] = () => v.verify(headerLines(headers, v.names), body, NOW);
      fns[`${b.profile}:delivery`] = () => v.verifyDelivery(headerLines(headers, v.names), body, NOW);
      fns[`${b.profile}:bare`] = () => v.bareHmac(prefix, body, expected);
    });
    const samples = interleaved(fns);
    for (const b of builds) {
      const s = (what) => samples[`${b.profile}:${what}`];
      const r = {
        profile: b.profile,
        scheme: scheme.name,
        size,
        wasm: median(s('verify')),
        bare: median(s('bare')),
        delivery: median(s('delivery')),
        node: median(samples.node),
        nodeParse: median(samples.nodeParse),
        ratio: ratioOf(s('verify'), samples.node),
        bareRatio: ratioOf(s('bare'), samples.node),
        deliveryRatio: ratioOf(s('delivery'), samples.nodeParse),
      };
      results.push(r);
      console.error(
        `  ${b.profile.padEnd(7)} ${scheme.name.padEnd(17)} ${String(size / 1024).padStart(2)} KiB: ` +
          `wasm ${r.wasm.toFixed(0).padStart(7)} ns, node ${r.node.toFixed(0).padStart(6)} ns, ratio ${r.ratio.toFixed(2)}`,
      );
    }
  }
}
if (sink === 0) console.error('(no verification succeeded?)');

const meets = (r) => (r.size === 1024 ? (r.ratio <= TARGET ? 'met' : 'missed') : '—');
const fmt = (ns) => ns.toFixed(0);
for (const b of builds) {
  console.log(
    `\nwasm, ${b.what} (bench module ${(b.bytes / 1024).toFixed(0)} KiB), vs Node ${process.version} crypto; ` +
      `median of ${ROUNDS} interleaved rounds, ratios are medians of per-round ratios:\n`,
  );
  console.log(
    '| scheme | size | wasm verify ns/op | node ns/op | ratio wasm/node | target ≤1.5× at 1 KiB ' +
      '| wasm bare HMAC ns/op (ratio to node) | wasm verify_delivery ns/op | node + JSON.parse ns/op | ratio |',
  );
  console.log('|---|---|---:|---:|---:|---|---:|---:|---:|---:|');
  for (const r of results.filter((r) => r.profile === b.profile)) {
    console.log(
      `| ${r.scheme} | ${r.size / 1024} KiB | ${fmt(r.wasm)} | ${fmt(r.node)} | ${r.ratio.toFixed(2)} | ${meets(r)} ` +
        `| ${fmt(r.bare)} (${r.bareRatio.toFixed(2)}) | ${fmt(r.delivery)} | ${fmt(r.nodeParse)} | ${r.deliveryRatio.toFixed(2)} |`,
    );
  }
}

if (process.env.BENCH_JSON) {
  const lines = results.map((r) => {
    const b = builds.find((b) => b.profile === r.profile);
    return JSON.stringify({
      bench: 'wasm',
      profile: r.profile,
      build: b.info,
      wasm_bytes: b.bytes,
      node: process.version,
      scheme: r.scheme,
      size: r.size,
      rounds: ROUNDS,
      wasm_verify_ns: r.wasm,
      wasm_bare_hmac_ns: r.bare,
      wasm_verify_delivery_ns: r.delivery,
      node_ns: r.node,
      node_parse_ns: r.nodeParse,
      ratio_wasm_node: r.ratio,
      ratio_bare_node: r.bareRatio,
      ratio_delivery_node_parse: r.deliveryRatio,
      target_ratio: r.size === 1024 ? TARGET : null,
      target_met: r.size === 1024 ? r.ratio <= TARGET : null,
    });
  });
  fs.appendFileSync(process.env.BENCH_JSON, lines.join('\n') + '\n');
  console.error(`wasm/node: JSON lines appended to ${process.env.BENCH_JSON}`);
}
