// The package as a clinic's backend loads it: ES modules and CommonJS, the same API.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import * as esm from "@outcall/client";

test("require() and import give the same exports", () => {
  const cjs = createRequire(import.meta.url)("@outcall/client") as Record<string, unknown>;
  assert.deepEqual(Object.keys(cjs).sort(), Object.keys(esm).sort());
  for (const name of ["OutcallClient", "OutcallError", "verifyWebhook", "createElevenLabsService", "WebhookVerificationError"]) {
    assert.equal(typeof cjs[name], "function", name);
  }
  assert.equal(typeof (cjs.elevenLabsService as { initiateCall?: unknown }).initiateCall, "function");
  assert.equal(Object.keys(cjs.routes as object).length, Object.keys(esm.routes).length);
});

test("importing the package has no side effect: no request, no environment needed", () => {
  assert.equal(typeof esm.elevenLabsService.getCallStats, "function");
});
