#!/usr/bin/env node
// Runs the compiled tests under dist/test.
//   node scripts/run-tests.js              every *.test.js on Node, and the API tests on Bun too
//   node scripts/run-tests.js tls quic     only files whose path contains one of the words
// FUZZ_RUNS sets the property-test case count (the test command uses the files' defaults).
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith(".test.js")) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
const all = walk("dist/test", []).sort();
const files = all.filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error("no test files matched", filters);
  process.exit(1);
}

// The API suites (raw QUIC, HTTP/3 serve/fetch, hq-interop) run on Bun as well: tsquic promises both runtimes.
const bun = "node_modules/.bin/bun";
if (filters.length === 0) {
  if (!existsSync(bun)) {
    console.error("Bun is missing (it is a dev dependency): run scripts/setup.sh");
    process.exit(1);
  }
  const apiFiles = all.filter(
    (f) =>
      f.startsWith(join("dist", "test", "api")) ||
      f.startsWith(join("dist", "test", "node")) ||
      f.endsWith(join("h3", "serve-fetch.test.js")) ||
      f.endsWith(join("h3", "early-data.test.js")) ||
      f.endsWith(join("hq", "transfer.test.js")),
  );
  console.log(`# Bun ${spawnSync(bun, ["--version"]).stdout.toString().trim()}: ${apiFiles.length} API test files`);
  const b = spawnSync(bun, ["test", "--timeout", "120000", ...apiFiles.map((f) => "./" + f)], { stdio: "inherit" });
  if (b.status !== 0) {
    console.error("API tests failed on Bun");
    process.exit(b.status ?? 1);
  }
}

// Node last, so its summary closes the output.
const r = spawnSync(process.execPath, ["--test", "--test-reporter=spec", ...files], { stdio: "inherit" });
process.exit(r.status ?? 1);
