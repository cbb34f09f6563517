// Offline schema check of rendered Kubernetes manifests, with the OpenAPI schemas of the
// Kubernetes API that the npm package kubernetes-models compiles into validators.
//
//   node validate_k8s.cjs MANIFESTS.json   (a JSON array of objects; exit 1 on any problem)
//
// Two things are checked for every object: the schema (types, required fields, enums, formats),
// and unknown fields. The compiled validators accept unknown properties, so each object is handed
// to its validator behind a Proxy that records which properties the validator looked at; a
// property it never looked at is not in the schema (a typo such as "readinessProbes", or a field
// of a newer Kubernetes than the schemas know).
"use strict";

const fs = require("fs");
const path = require("path");

function modelFile(apiVersion, kind) {
  const slash = apiVersion.indexOf("/");
  const sub = slash < 0 ? `v1/${kind}` : `${apiVersion}/${kind}`;
  if (slash < 0 && apiVersion !== "v1") return null;
  try {
    return require.resolve(`kubernetes-models/${sub}`);
  } catch (e) {
    return null;
  }
}

// The compiled schema validator the model file requires (not exported by the package itself).
function schemaValidator(file) {
  const src = fs.readFileSync(file, "utf8");
  const m = src.match(/require\("(\.\.\/(?:\.\.\/)?_schemas\/[A-Za-z0-9]+\.js)"\)/);
  if (!m) return null;
  return require(path.resolve(path.dirname(file), m[1])).validate;
}

function tracked(value, where, seen) {
  if (value === null || typeof value !== "object") return value;
  return new Proxy(value, {
    get(target, key, receiver) {
      const v = Reflect.get(target, key, receiver);
      if (typeof key !== "string") return v;
      seen.add(`${where}/${key}`);
      return tracked(v, `${where}/${key}`, seen);
    },
    has(target, key) {
      if (typeof key === "string") seen.add(`${where}/${key}`);
      return Reflect.has(target, key);
    },
  });
}

function unknownFields(value, where, seen, out) {
  if (value === null || typeof value !== "object") return;
  for (const key of Object.keys(value)) {
    const p = `${where}/${key}`;
    if (!seen.has(p)) {
      out.push(p);
      continue;  // its children are unknown too; one report is enough
    }
    unknownFields(value[key], p, seen, out);
  }
}

function main() {
  const objects = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  let problems = 0;
  const kinds = new Map();
  for (const obj of objects) {
    const id = `${obj.kind}/${obj.metadata && obj.metadata.name}`;
    const file = modelFile(String(obj.apiVersion || ""), String(obj.kind || ""));
    const validate = file && schemaValidator(file);
    if (!validate) {
      console.log(`FAIL ${id}: no schema for apiVersion ${obj.apiVersion} kind ${obj.kind}`);
      problems++;
      continue;
    }
    const seen = new Set(["/apiVersion", "/kind"]);
    const ok = validate(tracked(obj, "", seen));
    if (!ok) {
      for (const e of validate.errors || []) {
        console.log(`FAIL ${id}: ${e.instancePath || "/"} ${e.message || e.keyword}`);
      }
      problems++;
    }
    const unknown = [];
    unknownFields(obj, "", seen, unknown);
    for (const u of unknown) {
      console.log(`FAIL ${id}: unknown field ${u}`);
      problems++;
    }
    kinds.set(obj.kind, (kinds.get(obj.kind) || 0) + 1);
  }
  const summary = [...kinds].map(([k, n]) => `${n} ${k}`).join(", ");
  console.log(`${objects.length} objects checked (${summary}); ${problems} problem(s)`);
  process.exit(problems === 0 ? 0 : 1);
}

main();
