// package-lock.json is complete for every platform, so `npm ci` on a fresh clone works on
// Linux, macOS and Windows alike and never rewrites the lockfile: every dependency of every
// locked package (the platform binaries of workerd, esbuild, rolldown, lightningcss, sharp,
// typescript, fsevents … included) has its own entry with a version and an integrity hash.
// Then `npm ci --dry-run` plans an install per platform from the lockfile alone: offline,
// with an empty cache, so nothing is looked up in a registry.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";

import { ROOT } from "./support/edge.mjs";

const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8"));
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
const { packages } = lock;

/** The entry Node's resolution finds for `name` required from the package at `from` ("" is the root). */
function locate(from, name) {
  let base = from;
  for (;;) {
    const path = `${base ? `${base}/` : ""}node_modules/${name}`;
    if (packages[path]) return path;
    if (!base) return undefined;
    const up = base.lastIndexOf("/node_modules/");
    base = up < 0 ? "" : base.slice(0, up);
  }
}

/** Every edge a fresh install needs: dependencies, optional ones and required peers. */
function edges() {
  const all = [];
  for (const [from, entry] of Object.entries(packages)) {
    const optionalPeers = entry.peerDependenciesMeta ?? {};
    const names = [
      ...Object.keys(entry.dependencies ?? {}),
      ...Object.keys(entry.devDependencies ?? {}).filter(() => from === ""),
      ...Object.keys(entry.optionalDependencies ?? {}),
      ...Object.keys(entry.peerDependencies ?? {}).filter((n) => !optionalPeers[n]?.optional),
    ];
    for (const name of new Set(names)) all.push({ from: from || "(root)", name, at: locate(from, name) });
  }
  return all;
}

/** `npm ci --dry-run` for `os`/`cpu` in a copy of package.json and the lockfile: the packages it would add. */
function plannedInstall(os, cpu) {
  const dir = mkdtempSync(join(tmpdir(), "hookfeed-ci-"));
  copyFileSync(join(ROOT, "package.json"), join(dir, "package.json"));
  copyFileSync(join(ROOT, "package-lock.json"), join(dir, "package-lock.json"));
  const cache = mkdtempSync(join(tmpdir(), "hookfeed-npm-cache-"));
  const result = spawnSync("npm", ["ci", "--dry-run", "--offline", "--ignore-scripts", "--no-audit", "--no-fund",
    `--os=${os}`, `--cpu=${cpu}`, `--cache=${cache}`, "--loglevel=error"], { cwd: dir, encoding: "utf8" });
  assert.equal(result.error, undefined, `npm did not run: ${result.error}`);
  assert.equal(result.status, 0, `npm ci --dry-run for ${os}/${cpu} failed:\n${result.stdout}${result.stderr}`);
  return new Set([...result.stdout.matchAll(/^add (\S+) \S+$/gm)].map(([, name]) => name));
}

describe("package-lock.json", () => {
  it("is a v3 lockfile of this package's dependencies", () => {
    assert.equal(lock.lockfileVersion, 3);
    assert.deepEqual(packages[""].devDependencies, pkg.devDependencies);
    assert.deepEqual(packages[""].peerDependencies, pkg.peerDependencies);
  });

  it("locks every dependency of every package, every platform's optional binaries included, with an integrity hash", () => {
    const all = edges();
    assert.ok(all.length > 100, `only ${all.length} dependency edges`);
    assert.deepEqual(all.filter((e) => !e.at).map((e) => `${e.from} → ${e.name}`), [], "dependencies without a lockfile entry");
    const incomplete = [...new Set(all.map((e) => e.at))].filter((at) => {
      const entry = packages[at];
      if (entry.link) return false;
      // `resolved` is left out when npm's omit-lockfile-registry-resolved is set (npm then
      // fetches name@version from the configured registry); when present it is a registry tarball.
      return !entry.version || !/^sha512-/.test(entry.integrity ?? "") || (entry.resolved !== undefined && !/^https:\/\/.+\.tgz$/.test(entry.resolved));
    });
    assert.deepEqual(incomplete, [], "entries without a version, a sha512 integrity or a registry tarball");
  });

  it("holds the native packages of Linux, macOS and Windows on x64 and arm64", () => {
    const expected = [
      "@cloudflare/workerd-linux-64", "@cloudflare/workerd-linux-arm64", "@cloudflare/workerd-darwin-64",
      "@cloudflare/workerd-darwin-arm64", "@cloudflare/workerd-windows-64",
      "@esbuild/linux-x64", "@esbuild/linux-arm64", "@esbuild/darwin-x64", "@esbuild/darwin-arm64",
      "@esbuild/win32-x64", "@esbuild/win32-arm64",
      "@rolldown/binding-linux-x64-gnu", "@rolldown/binding-darwin-arm64", "@rolldown/binding-win32-x64-msvc",
      "lightningcss-linux-x64-gnu", "lightningcss-darwin-arm64", "lightningcss-win32-x64-msvc",
      "fsevents",
    ];
    assert.deepEqual(expected.filter((name) => !packages[`node_modules/${name}`]), []);
  });

  for (const [os, cpu, binaries] of [
    ["linux", "x64", ["@cloudflare/workerd-linux-64", "@esbuild/linux-x64", "@rolldown/binding-linux-x64-gnu"]],
    ["linux", "arm64", ["@cloudflare/workerd-linux-arm64", "@esbuild/linux-arm64", "@rolldown/binding-linux-arm64-gnu"]],
    ["darwin", "arm64", ["@cloudflare/workerd-darwin-arm64", "@esbuild/darwin-arm64", "@rolldown/binding-darwin-arm64", "fsevents"]],
    ["darwin", "x64", ["@cloudflare/workerd-darwin-64", "@esbuild/darwin-x64", "@rolldown/binding-darwin-x64", "fsevents"]],
    ["win32", "x64", ["@cloudflare/workerd-windows-64", "@esbuild/win32-x64", "@rolldown/binding-win32-x64-msvc"]],
  ]) {
    it(`lets npm ci plan a ${os}/${cpu} install from the lockfile alone, offline, with its native packages`, () => {
      const added = plannedInstall(os, cpu);
      assert.ok(added.has("wrangler") && added.has("vite") && added.has("react"), [...added].join(" "));
      assert.deepEqual(binaries.filter((name) => !added.has(name)), [], `missing from the ${os}/${cpu} install`);
      const foreign = [...added].filter((name) => /workerd-|^@esbuild\//.test(name) && !binaries.includes(name));
      assert.deepEqual(foreign, [], `another platform's binaries in the ${os}/${cpu} install`);
    });
  }
});
