// The npm package as a user installs it: the tarball `npm pack` makes (without running
// prepack: the browser module is built by then), unpacked as node_modules would hold it.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { ROOT } from "./edge.mjs";

/** Packs and unpacks the package; returns the unpacked directory. Fails if a file in `expect` is not in it. */
export function packedPackage(expect = []) {
  const packed = mkdtempSync(join(tmpdir(), "hookfeed-pack-"));
  const [{ filename, files }] = JSON.parse(
    execFileSync("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", packed], { cwd: ROOT, encoding: "utf8" }),
  );
  for (const file of expect) assert.ok(files.some((f) => f.path === file), `the package holds ${file}`);
  execFileSync("tar", ["-xzf", join(packed, filename), "-C", packed]);
  return join(packed, "package");
}
