#!/usr/bin/env node
// npm run build: generate src/gen from the protos (scripts/generate.mjs), then compile the
// package twice: ES modules into dist/esm, CommonJS into dist/cjs (for backends that require()).
// With --tests, also compiles test/ into .test-build (the unit and integration tests import the
// built package by its name, as a clinic's backend would).
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const run = (args) => {
  try {
    execFileSync(process.execPath, args, { cwd: pkg, stdio: "inherit" });
  } catch (err) {
    console.error(`build: ${args.slice(-2).join(" ")} failed (exit ${err.status ?? err.signal})`);
    process.exit(1);
  }
};

run([join(pkg, "scripts/generate.mjs")]);
rmSync(join(pkg, "dist"), { recursive: true, force: true });
run([tsc, "-p", "tsconfig.json"]);
run([tsc, "-p", "tsconfig.cjs.json"]);
mkdirSync(join(pkg, "dist/cjs"), { recursive: true });
writeFileSync(join(pkg, "dist/cjs/package.json"), `${JSON.stringify({ type: "commonjs" })}\n`);
if (process.argv.includes("--tests")) {
  rmSync(join(pkg, ".test-build"), { recursive: true, force: true });
  run([tsc, "-p", "tsconfig.test.json"]);
}
console.log(`build: dist/esm, dist/cjs${process.argv.includes("--tests") ? ", .test-build" : ""}`);
