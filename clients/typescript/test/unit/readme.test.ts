// The original README's two TypeScript examples (../shared/seed-readme.es.md, "Uso del Servicio
// en Código") are in README.md unchanged apart from the import, type-check against the package
// as a clinic's backend would compile them, and run: against a stubbed fetch, they print what
// the original printed.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const pkgDir = fileURLToPath(new URL("../../../", import.meta.url));
const workDir = join(pkgDir, ".test-build/readme");

// The seed's code, as the original README has it (its import line was
// `import { elevenLabsService } from './services/elevenLabsService';`).
const SEED_INITIATE_CALL = `const result = await elevenLabsService.initiateCall({
  phoneNumber: '+573001234567',
  patientId: 123,
  patientName: 'Juan Pérez',
  appointmentId: 456,
  customVariables: {
    appointment_date: '2025-10-27',
    appointment_time: '10:00 AM',
    doctor_name: 'Dr. García'
  }
});

if (result.success) {
  console.log('Llamada iniciada:', result.conversationId);
} else {
  console.error('Error:', result.error);
}`;
const SEED_GET_CALL_STATS = `const stats = await elevenLabsService.getCallStats({
  startDate: '2025-10-01',
  endDate: '2025-10-31',
  status: 'completed'
});

console.log('Total de llamadas:', stats.total_calls);`;
const IMPORT = "import { elevenLabsService } from '@outcall/client';";

function readmeBlock(marker: string): string {
  const readme = readFileSync(join(pkgDir, "README.md"), "utf8");
  const at = readme.indexOf(`<!-- seed example: ${marker} -->`);
  assert.ok(at >= 0, `README.md has no "seed example: ${marker}" block`);
  const m = readme.slice(at).match(/```typescript\n([\s\S]*?)\n```/);
  assert.ok(m, `README.md: no typescript block after the ${marker} marker`);
  return m[1]!;
}

function run(file: string, env: Record<string, string> = {}) {
  const stub = join(pkgDir, ".test-build/test/support/stub-fetch.js");
  return spawnSync(process.execPath, ["--import", stub, file], {
    encoding: "utf8",
    env: { ...process.env, OUTCALL_URL: "http://outcall.test:8080", OUTCALL_TOKEN: "readme-token", ...env },
  });
}

describe("the original README's examples", () => {
  const blocks = { initiateCall: readmeBlock("initiateCall"), getCallStats: readmeBlock("getCallStats") };
  mkdirSync(workDir, { recursive: true });

  test("are in README.md as the seed wrote them, with only the import changed", () => {
    assert.equal(blocks.initiateCall, `${IMPORT}\n\n${SEED_INITIATE_CALL}`);
    assert.equal(blocks.getCallStats, `${IMPORT}\n\n${SEED_GET_CALL_STATS}`);
  });

  test("type-check under strict TypeScript against the built package", () => {
    const files = Object.entries(blocks).map(([name, code]) => {
      const f = join(workDir, `${name}.mts`);
      writeFileSync(f, `${code}\nexport {};\n`);
      return f;
    });
    const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
    const args = [tsc, "--noEmit", "--strict", "--target", "es2022", "--module", "nodenext", "--moduleResolution", "nodenext", "--types", "node", "--skipLibCheck", ...files];
    try {
      execFileSync(process.execPath, args, { cwd: pkgDir, encoding: "utf8", stdio: "pipe" });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      assert.fail(`tsc: ${e.stdout ?? ""}${e.stderr ?? ""}`);
    }
  });

  test("the README's other examples type-check too (helpers they name declared; Express's stubbed)", () => {
    const readme = readFileSync(join(pkgDir, "README.md"), "utf8");
    const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)\n```/g)].map((m) => m[1]!);
    assert.ok(blocks.length >= 4, `${blocks.length} ts blocks`);
    const prelude = [
      "declare const tokens: { current(): string };",
      "declare const appointmentId: number;",
      "declare const bundle: { [key: string]: unknown };",
      "declare function saveSecret(secret: string): void;",
      "declare function alreadyHandled(webhookId: string): Promise<boolean>;",
      "declare function markCall(callId: string, status: string, appointmentRef?: string): Promise<void>;",
      "declare function updateAppointment(ref?: string, status?: string, preference?: string): Promise<void>;",
      "declare function markDoNotCall(patientRef?: string): Promise<void>;",
    ].join("\n");
    // The configuration block declares `outcall`, which the next ones use: one file for those.
    const [config, ...rest] = blocks;
    const files: string[] = [];
    const write = (name: string, code: string) => {
      const f = join(workDir, name);
      writeFileSync(f, `${code}\nexport {};\n`);
      files.push(f);
    };
    const imports = (code: string) => code.split("\n").filter((l) => l.startsWith("import "));
    const body = (code: string) => code.split("\n").filter((l) => !l.startsWith("import ")).join("\n");
    const usesOutcall = rest.filter((b) => !b.includes("from 'express'") && !b.includes("node:http"));
    write(
      "readme-client.mts",
      [...new Set([config!, ...usesOutcall].flatMap(imports))].join("\n") + `\n${prelude}\n` + [config!, ...usesOutcall].map(body).join("\n"),
    );
    rest.filter((b) => b.includes("from 'express'") || b.includes("node:http")).forEach((b, i) => write(`readme-server-${i}.mts`, `${b}\n${prelude}`));
    writeFileSync(
      join(workDir, "express-stub.d.ts"),
      "declare module 'express' {\n  interface Req { headers: import('node:http').IncomingHttpHeaders; body: Buffer; header(name: string): string | undefined }\n" +
        "  interface Res { status(n: number): Res; send(b: string): Res; sendStatus(n: number): Res }\n" +
        "  interface App { post(path: string, ...handlers: ((req: Req, res: Res) => unknown)[]): void }\n" +
        "  interface Express { (): App; raw(o: { type: string }): (req: Req, res: Res) => unknown }\n" +
        "  const e: Express;\n  export default e;\n}\n",
    );
    const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
    const args = [tsc, "--noEmit", "--strict", "--target", "es2022", "--module", "nodenext", "--moduleResolution", "nodenext", "--types", "node", "--skipLibCheck",
      join(workDir, "express-stub.d.ts"), ...files];
    try {
      execFileSync(process.execPath, args, { cwd: pkgDir, encoding: "utf8", stdio: "pipe" });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      assert.fail(`tsc: ${e.stdout ?? ""}${e.stderr ?? ""}`);
    }
  });

  test("run: the call is placed and its conversation id printed; the stats printed", () => {
    const call = join(workDir, "initiateCall.mjs");
    writeFileSync(call, `${blocks.initiateCall}\n`);
    let r = run(call);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "Llamada iniciada: conv_abc123\n");
    assert.match(r.stderr, /stub-fetch: POST http:\/\/outcall\.test:8080\/api\/elevenlabs\/call Bearer readme-token/);

    const stats = join(workDir, "getCallStats.mjs");
    writeFileSync(stats, `${blocks.getCallStats}\n`);
    r = run(stats);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "Total de llamadas: 150\n");
    assert.match(r.stderr, /GET http:\/\/outcall\.test:8080\/api\/elevenlabs\/stats\?startDate=2025-10-01&endDate=2025-10-31&status=completed/);
  });

  test("run, refused: the error is printed, nothing is thrown", () => {
    const call = join(workDir, "initiateCall.mjs");
    writeFileSync(call, `${blocks.initiateCall}\n`);
    const r = run(call, { STUB_FETCH_REFUSE: "1" });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /Error: phoneNumber: \+573001234567 is on the do-not-call list/);
  });
});
