// The TypeScript declarations (web/index.d.ts) against Firestore-style code: tsc (the
// pinned `typescript` devDependency) compiles tests/types/usage.ts under --strict with no
// error, and reports exactly the deliberate errors of tests/types/misuse.ts; react.ts and
// react-misuse.ts do the same for hookfeed/react. They import "hookfeed" and
// "hookfeed/react", which resolve to this package through package.json's "exports".

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";

import { ROOT } from "./support/edge.mjs";

const TSC = join(ROOT, "node_modules/.bin/tsc");

/** `tsc --noEmit --strict` on one file under tests/types: its exit status and output. */
function tsc(file) {
  assert.ok(existsSync(TSC), `${TSC} is missing: run \`npm install\` (typescript is a devDependency)`);
  const result = spawnSync(TSC, ["--noEmit", "--strict", "--module", "nodenext", `tests/types/${file}`], {
    cwd: ROOT,
    encoding: "utf8",
  });
  assert.equal(result.error, undefined, `tsc did not run: ${result.error}`);
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** `file(line,col): error TSnnnn` → "line TSnnnn", for each error tsc reported. */
function reported(output, file) {
  const pattern = new RegExp(`^tests/types/${file.replace(".", "\\.")}\\((\\d+),\\d+\\): error (TS\\d+)`, "gm");
  return [...output.matchAll(pattern)].map(([, line, code]) => `${line} ${code}`);
}

/** tsc fails on `file` with exactly the errors its `// error TSnnnn` comments mark. */
function reportsExactlyTheMarkedErrors(file) {
  const source = readFileSync(join(ROOT, "tests/types", file), "utf8");
  const expected = source
    .split("\n")
    .flatMap((text, i) => [...text.matchAll(/\/\/ error (TS\d+)/g)].map(([, code]) => `${i + 1} ${code}`));
  assert.ok(expected.length >= 5, `only ${expected.length} deliberate errors are marked`);
  const { status, output } = tsc(file);
  assert.notEqual(status, 0, "tsc accepted code with type errors");
  assert.deepEqual(reported(output, file), expected, output);
}

describe("the TypeScript declarations", () => {
  it("compile Firestore-style usage of every documented function and snapshot member under --strict", () => {
    const { status, output } = tsc("usage.ts");
    assert.equal(output, "", "tsc reported errors");
    assert.equal(status, 0);
  });

  it("compile a backend's use of hookfeed/server's createToken under --strict", () => {
    const { status, output } = tsc("server.ts");
    assert.equal(output, "", "tsc reported errors");
    assert.equal(status, 0);
  });

  it("hold the README's \"Watch a document\" snippet verbatim in the usage file", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const section = readme.split(/^## /m).find((s) => s.startsWith("Watch a document"));
    assert.ok(section, "README.md has no \"Watch a document\" section");
    const snippet = section.match(/```js\n([\s\S]*?)```/)?.[1];
    assert.ok(snippet, "the \"Watch a document\" section has no ```js block");
    const usage = readFileSync(join(ROOT, "tests/types/usage.ts"), "utf8");
    assert.ok(usage.includes(snippet), `tests/types/usage.ts does not contain the README's snippet:\n${snippet}`);
  });

  it("report exactly the deliberate errors in misuse.ts, so the check is real", () => {
    reportsExactlyTheMarkedErrors("misuse.ts");
  });

  it("compile hookfeed/react's useDocument and useQuery under --strict", () => {
    const { status, output } = tsc("react.ts");
    assert.equal(output, "", "tsc reported errors");
    assert.equal(status, 0);
  });

  it("report exactly the deliberate errors in react-misuse.ts", () => {
    reportsExactlyTheMarkedErrors("react-misuse.ts");
  });
});
