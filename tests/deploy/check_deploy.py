#!/usr/bin/python3
"""Static checks of outcall's deployment description: no Docker engine, cluster or Envoy needed.

What is checked (each check prints PASS/FAIL with its reasons; any FAIL fails the test):
  tools        docker-compose, yamllint, kubectl (kustomize), node/npm, protoc, readelf are present
  yamllint     every YAML file of deploy/ and docker-compose.yml, strictly
  compose      `docker-compose config` accepts the file with deploy/env.example, refuses to render
               without the secrets, and the topology holds (services, profile, healthchecks, start
               order, volume, hardening, published ports, secrets only by interpolation)
  env.example  placeholders only; deploy/.env and deploy/secrets/ are git- and docker-ignored
  kustomize    the base and the example overlay render
  k8s-schema   every rendered object is valid against the Kubernetes OpenAPI schemas, with no
               unknown field (tests/deploy/validate_k8s.cjs, npm package kubernetes-models)
  k8s-policy   per service: Deployment, Service, ServiceAccount, PDB, HPA; gRPC probes on the
               gRPC port; requests and limits; non-root, read-only root, capabilities dropped; no
               Secret values; a migration Job; network policies (who reaches which port)
  envoy        deploy/envoy/envoy.yaml against the descriptor set: the transcoder names exactly the
               package's services that have REST bindings, every binding routes to the right
               service and port and needs a JWT, the webhook does not, JWT issuer/audience agree
               with the services, transcoder options, an access log free of paths and queries
  env          every environment variable a component reads (derived from the C++ sources) is set
               or deliberately defaulted (deploy/env-policy.yaml) in compose and in Kubernetes,
               required ones are set, and nothing unknown is set
  dockerfile   targets, non-root users, runtime-only final images whose packages provide every
               shared library the built binaries need
  edge         (with --edge-binary) the single-machine REST edge (outcall-rest-edge --print-routes)
               and envoy.yaml agree route for route on the descriptor set: for every binding the
               same route, cluster, timeout and JWT rule; the same route list; the same not-found
               body, local-reply error codes, body limit, stream framing and timeouts
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

# PostgreSQL settings that keep patient data out of its log (DETAIL "Failing row contains",
# STATEMENT lines with literal values, bind parameters): scripts/pg.sh and docker-compose.yml.
PG_LOG_PRIVACY_SETTINGS = ("log_error_verbosity=terse", "log_min_error_statement=panic",
                           "log_parameter_max_length_on_error=0", "log_parameter_max_length=0")
SERVICE_IMAGE_TARGETS = ("call-gateway", "stats", "webhook-ingest", "migrate", "envoy", "elevenlabs-sim")


class Failure(Exception):
    pass


class Runner:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def run(self, name, fn):
        try:
            notes = fn() or []
        except Failure as e:
            self.failed += 1
            print(f"FAIL {name}")
            for line in str(e).splitlines():
                print(f"     {line}")
            return
        except Exception as e:  # a crash in a check is a failure, with its reason
            self.failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}")
            return
        self.passed += 1
        print(f"PASS {name}")
        for n in notes:
            print(f"     {n}")


def fail_if(problems, header=None):
    if problems:
        raise Failure("\n".join(([header] if header else []) + list(problems)))


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


# --- sources: what each component reads ----------------------------------------------------------

READ_METHODS = "String|RequiredString|SecretValue|Int|Bool|Seconds|Url|List|OneOf"
READ_RE = re.compile(r"(?:\.|->)(" + READ_METHODS + r")\(\s*\"([A-Z][A-Z0-9_]*)\"")
LOOP_RE = re.compile(r"for\s*\(\s*const\s+char\s*\*\s*(\w+)\s*:\s*\{([^}]*)\}\s*\)")
GETENV_RE = re.compile(r"getenv\(\s*\"([A-Z][A-Z0-9_]*)\"")
# "is required but not set", "is required (or X_FILE)"; not "is required when ..." (conditional).
REQUIRED_ERR_RE = re.compile(r"AddError\(\s*\"([A-Z][A-Z0-9_]*)\"\s*,\s*\"is required(?! when)")
ENV_FN_RE = re.compile(r"\b(\w+)\s*\(\s*(?:common::)?EnvReader\s*&\s*\w+[^)]*\)\s*\{")


def strip_comments(src):
    src = re.sub(r"/\*.*?\*/", lambda m: re.sub(r"[^\n]", " ", m.group(0)), src, flags=re.S)
    return re.sub(r"//[^\n]*", "", src)


def call_args(src, open_paren):
    """Text between the parenthesis at open_paren and its match."""
    depth = 0
    for i in range(open_paren, len(src)):
        if src[i] == "(":
            depth += 1
        elif src[i] == ")":
            depth -= 1
            if depth == 0:
                return src[open_paren + 1:i]
    return src[open_paren + 1:]


def block_at(src, open_brace):
    depth = 0
    for i in range(open_brace, len(src)):
        if src[i] == "{":
            depth += 1
        elif src[i] == "}":
            depth -= 1
            if depth == 0:
                return src[open_brace:i + 1]
    return src[open_brace:]


def reads_in(src):
    """{VAR: {"required": bool, "secret": bool}} read by this text."""
    out = {}

    def note(name, method, args):
        req = method == "RequiredString" or (
            method in ("SecretValue", "Url") and re.search(r",\s*(?:/\*[^*]*\*/\s*)?true\s*$", args.strip()) is not None)
        e = out.setdefault(name, {"required": False, "secret": False})
        e["required"] |= req
        e["secret"] |= method == "SecretValue"

    for m in READ_RE.finditer(src):
        args = call_args(src, m.end(2) - len(m.group(2)) - 2)
        note(m.group(2), m.group(1), args)
    for m in LOOP_RE.finditer(src):
        var, names = m.group(1), re.findall(r"\"([A-Z][A-Z0-9_]*)\"", m.group(2))
        body = src[m.end():m.end() + 600]
        used = re.search(r"(?:\.|->)(" + READ_METHODS + r")\(\s*" + re.escape(var) + r"\b", body)
        if used:
            args = call_args(body, used.end(1))
            for n in names:
                note(n, used.group(1), args)
    for m in GETENV_RE.finditer(src):
        out.setdefault(m.group(1), {"required": False, "secret": False})
    for m in REQUIRED_ERR_RE.finditer(src):
        out.setdefault(m.group(1), {"required": False, "secret": False})["required"] = True
    return out


def merge_reads(into, more):
    for k, v in more.items():
        e = into.setdefault(k, {"required": False, "secret": False})
        e["required"] |= v["required"]
        e["secret"] |= v["secret"]


def source_files(d, exts=(".cpp", ".cc", ".h")):
    for root, _, files in os.walk(d):
        for f in sorted(files):
            if f.endswith(exts):
                yield os.path.join(root, f)


class Sources:
    """Components (services, simulator, migration tool) and the variables each one reads."""

    def __init__(self, repo):
        self.repo = repo
        self.lib_fns = {}  # function taking EnvReader& -> (reads, body)
        for f in source_files(os.path.join(repo, "libs")):
            src = strip_comments(open(f, encoding="utf-8").read())
            for m in ENV_FN_RE.finditer(src):
                body = block_at(src, m.end() - 1)
                self.lib_fns[m.group(1)] = (reads_in(body), body)
        self.components = {}  # name -> {"reads", "grpc_port", "compose", "k8s"}
        for d in sorted(os.listdir(os.path.join(repo, "services"))):
            path = os.path.join(repo, "services", d)
            # The single-machine REST edge is not deployed: Envoy is the edge in compose and
            # Kubernetes (check_edge proves the two route alike).
            if os.path.isdir(path) and d != "rest-edge":
                self._add(d, list(source_files(path)), compose=d, k8s=("Deployment", d))
        sim = os.path.join(repo, "tools", "elevenlabs-sim")
        if os.path.isdir(sim):
            # A local stand-in: compose only (profile "sim"), never deployed to Kubernetes.
            self._add("elevenlabs-sim", list(source_files(sim)), compose="elevenlabs-sim", k8s=None)
        self._add("outcall-migrate", [os.path.join(repo, "tools", "ops", "migrate_main.cpp")], compose="migrate",
                  k8s=("Job", "outcall-migrate"))

    def documented(self):
        """{component: {VAR}} from the tables of docs/configuration.md, by section heading."""
        out = {name: set() for name in self.components}
        section = None
        for line in open(os.path.join(self.repo, "docs", "configuration.md"), encoding="utf-8"):
            if line.startswith("## "):
                h = line[3:].strip().lower()
                if "shared" in h or "all services" in h:
                    section = [n for n, c in self.components.items() if c["grpc_port"]]
                else:
                    section = [n for n in self.components if n in h]
                continue
            m = re.match(r"\|\s*`([A-Z][A-Z0-9_]*)`", line)
            if m and section:
                for n in section:
                    out[n].add(m.group(1))
        return out

    def _expand(self, src, reads, seen):
        for name, (fn_reads, body) in self.lib_fns.items():
            if name in seen or not re.search(r"\b" + name + r"\s*\(", src):
                continue
            seen.add(name)
            merge_reads(reads, fn_reads)
            self._expand(body, reads, seen)

    def _add(self, name, files, compose, k8s):
        reads, text = {}, ""
        for f in files:
            src = strip_comments(open(f, encoding="utf-8").read())
            text += src
            merge_reads(reads, reads_in(src))
        self._expand(text, reads, set())
        port = re.search(r"ReadCommonConfig\(\s*\w+\s*,\s*\{\s*\"[^\"]*:(\d+)\"\s*,\s*\"[^\"]*:(\d+)\"", text)
        self.components[name] = {
            "reads": reads,
            "grpc_port": int(port.group(1)) if port else None,
            "metrics_port": int(port.group(2)) if port else None,
            "grpc_services": sorted(set(re.findall(r"/(\w+\.v\d+\.\w+)/", text))),
            "compose": compose,
            "k8s": k8s,
        }


# --- descriptor set --------------------------------------------------------------------------------

def parse_text_proto(text):
    """A small parser for protoc's text output: nested dicts, repeated keys become lists."""
    root, stack = {}, []
    cur = root
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line == "}":
            cur = stack.pop()
            continue
        if line.endswith("{"):
            key = line[:-1].strip()
            child = {}
            cur.setdefault(key, []).append(child)
            stack.append(cur)
            cur = child
            continue
        key, _, value = line.partition(":")
        value = value.strip()
        if value.startswith('"'):
            value = bytes(value[1:-1], "utf-8").decode("unicode_escape")
        cur.setdefault(key.strip(), []).append(value)
    return root


def load_descriptor(args):
    includes = []
    for d in args.proto_include:
        includes += ["-I", d]
    with open(args.descriptor_set, "rb") as f:
        p = subprocess.run([args.protoc] + includes + ["--decode=google.protobuf.FileDescriptorSet",
                                                        "google/protobuf/descriptor.proto", "google/api/annotations.proto"],
                           stdin=f, capture_output=True)
    if p.returncode != 0:
        raise Failure(f"protoc cannot decode {args.descriptor_set}: {p.stderr.decode()[:500]}")
    fds = parse_text_proto(p.stdout.decode("utf-8"))
    services = {}  # full name -> {"package", "bindings": [(verb, path, method)]}
    for f in fds.get("file", []):
        pkg = f.get("package", [""])[0]
        for s in f.get("service", []):
            full = f"{pkg}.{s['name'][0]}"
            bindings = []
            for m in s.get("method", []):
                for opt in m.get("options", []):
                    for rule in opt.get("[google.api.http]", []):
                        for verb in ("get", "post", "put", "delete", "patch"):
                            if verb in rule:
                                bindings.append((verb.upper(), rule[verb][0], m["name"][0]))
            services[full] = {"package": pkg, "bindings": bindings}
    return services


# --- helpers over compose and k8s -------------------------------------------------------------------

def host_port(addr):
    host, _, port = str(addr).rpartition(":")
    return host, int(port)


def k8s_index(objs):
    return {(o["kind"], o["metadata"]["name"]): o for o in objs}


def pod_spec(obj):
    return obj["spec"]["template"]["spec"]


def k8s_env(objs, kind, name):
    """{VAR: {"value": str|None, "secret": bool, "optional": bool}} of the first container."""
    idx = k8s_index(objs)
    obj = idx[(kind, name)]
    c = pod_spec(obj)["containers"][0]
    env = {}
    for src in c.get("envFrom", []):
        if "secretRef" in src:
            raise Failure(f"{kind}/{name}: envFrom secretRef hides which variables are set; use env with secretKeyRef")
        cm = idx.get(("ConfigMap", src["configMapRef"]["name"]))
        if cm is None:
            raise Failure(f"{kind}/{name}: envFrom names ConfigMap {src['configMapRef']['name']}, which is not rendered")
        for k, v in (cm.get("data") or {}).items():
            env[k] = {"value": v, "secret": False, "optional": False}
    for e in c.get("env", []):
        if "valueFrom" in e:
            ref = e["valueFrom"].get("secretKeyRef") or e["valueFrom"].get("configMapKeyRef") or {}
            env[e["name"]] = {"value": None, "secret": "secretKeyRef" in e["valueFrom"],
                              "optional": bool(ref.get("optional"))}
        else:
            env[e["name"]] = {"value": e.get("value", ""), "secret": False, "optional": False}
    return env


def duration_secs(value):
    """Seconds of a compose duration ("15s", "1m30s", "1h", "500ms") or a number; None if unreadable."""
    if isinstance(value, (int, float)):
        return float(value)
    m = re.fullmatch(r"((?:\d+(?:\.\d+)?(?:h|ms|m|s|us|ns))+)", str(value).strip())
    if not m:
        return None
    unit = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
    return sum(float(n) * unit[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|ns)", str(value)))


def compose_grace(service):
    """SHUTDOWN_GRACE_SECS of a rendered compose service, None if it does not set it."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) for e in env if "=" in e)
    v = env.get("SHUTDOWN_GRACE_SECS")
    return None if v is None else float(v)


def pre_stop_pause(container):
    """Seconds of a preStop `sleep N` hook (0 without one)."""
    cmd = (((container.get("lifecycle") or {}).get("preStop") or {}).get("exec") or {}).get("command") or []
    if len(cmd) == 2 and cmd[0].rsplit("/", 1)[-1] == "sleep":
        try:
            return float(cmd[1])
        except ValueError:
            return 0
    return 0


def labels_match(selector, labels):
    return all(labels.get(k) == v for k, v in (selector or {}).items())


# --- the checks ---------------------------------------------------------------------------------------

class DeployChecks:
    def __init__(self, args):
        self.a = args
        self.repo = args.repo
        self.work = args.work_dir
        os.makedirs(self.work, exist_ok=True)
        self.compose = None
        self.k8s = {}
        self.sources = Sources(self.repo)
        self.policy = yaml.safe_load(open(os.path.join(self.repo, "deploy", "env-policy.yaml")))
        self.envoy = yaml.safe_load(open(os.path.join(self.repo, "deploy", "envoy", "envoy.yaml")))

    def p(self, *parts):
        return os.path.join(self.repo, *parts)

    # tools --------------------------------------------------------------------------------------------
    def check_tools(self):
        missing = []
        for tool, how in (("docker-compose", "Debian package docker-compose (scripts/install-deps.sh)"),
                          ("yamllint", "Debian package yamllint (scripts/install-deps.sh)"),
                          ("readelf", "Debian package binutils (build-essential)"),
                          ("node", "nodejs (this machine image; Debian package nodejs otherwise)"),
                          ("npm", "npm (this machine image; Debian package npm otherwise)"),
                          ("kubectl", "kubectl >= 1.21 with kustomize (this machine image; Debian 12's "
                                      "kubernetes-client 1.20 embeds a kustomize too old for the manifests)")):
            if shutil.which(tool) is None:
                missing.append(f"{tool}: not found; it comes from {how}")
        if not os.access(self.a.protoc, os.X_OK):
            missing.append(f"protoc not executable: {self.a.protoc}")
        if shutil.which("kubectl"):
            p = run(["kubectl", "version", "--client", "-o", "json"])
            try:
                kv = json.loads(p.stdout).get("kustomizeVersion", "")
            except ValueError:
                kv = ""
            m = re.match(r"v(\d+)", kv)
            if not m or int(m.group(1)) < 4:
                missing.append(f"kubectl's kustomize is {kv or 'missing'}; v4 or newer is needed")
        fail_if(missing)

    # yamllint -----------------------------------------------------------------------------------------
    def check_yamllint(self):
        p = run(["yamllint", "-s", "-f", "parsable", "-c", self.p("tests", "deploy", "yamllint.yaml"),
                 self.p("docker-compose.yml"), self.p("deploy")])
        fail_if([l for l in (p.stdout + p.stderr).splitlines() if l.strip()] if p.returncode else [])

    # compose ------------------------------------------------------------------------------------------
    def compose_cmd(self, env_file):
        return ["docker-compose", "--project-directory", self.repo, "-f", self.p("docker-compose.yml"),
                "--env-file", env_file, "config"]

    def check_compose(self):
        p = run(self.compose_cmd(self.p("deploy", "env.example")), cwd=self.repo)
        if p.returncode != 0:
            raise Failure("docker-compose config refused the file:\n" + p.stderr[-2000:])
        self.compose = yaml.safe_load(p.stdout)
        problems = []
        with tempfile.NamedTemporaryFile("w", suffix=".env") as empty:
            q = run(self.compose_cmd(empty.name), cwd=self.repo)
            if q.returncode == 0 or "deploy/.env" not in q.stderr:
                problems.append("without the secrets (an empty env file) compose must refuse to render, naming deploy/.env")
        svcs = self.compose.get("services", {})
        want = {"postgres", "migrate", "envoy"} | {c["compose"] for c in self.sources.components.values()}
        for s in sorted(want - set(svcs)):
            problems.append(f"service {s} is missing")
        for name, s in svcs.items():
            profiles = s.get("profiles", [])
            if name == "elevenlabs-sim":
                if profiles != ["sim"]:
                    problems.append("elevenlabs-sim must be under the profile 'sim' only")
            elif profiles:
                problems.append(f"{name} must not be under a profile")
        pg = svcs.get("postgres", {})
        if not any(str(v).startswith("pgdata:") or (isinstance(v, dict) and v.get("source") == "pgdata")
                   for v in pg.get("volumes", [])):
            problems.append("postgres must keep its data in the named volume pgdata")
        # No patient data in the server log: the settings docs/configuration.md documents.
        pg_command = pg.get("command", [])
        pg_command = pg_command.split() if isinstance(pg_command, str) else [str(a) for a in pg_command]
        for setting in PG_LOG_PRIVACY_SETTINGS:
            if setting not in pg_command:
                problems.append(f"postgres must run with -c {setting} (no patient data in its log)")
        for name in ("postgres", "envoy") + tuple(c["compose"] for c in self.sources.components.values()
                                                   if c["grpc_port"]):
            if name in svcs and "healthcheck" not in svcs[name]:
                problems.append(f"{name} has no healthcheck")
        order = {"migrate": {"postgres": "service_healthy"}, "envoy": {}}
        for c in self.sources.components.values():
            if c["grpc_port"]:
                order[c["compose"]] = {"migrate": "service_completed_successfully"}
                order["envoy"][c["compose"]] = "service_healthy"
        for svc, deps in order.items():
            have = svcs.get(svc, {}).get("depends_on", {})
            for dep, cond in deps.items():
                got = have.get(dep, {}).get("condition") if isinstance(have, dict) else None
                if got != cond:
                    problems.append(f"{svc} must depend on {dep} with condition {cond} (has {got})")
        for name, s in svcs.items():
            if name == "postgres":
                continue
            if s.get("read_only") is not True:
                problems.append(f"{name}: read_only must be true")
            if "ALL" not in s.get("cap_drop", []):
                problems.append(f"{name}: cap_drop must include ALL")
            if s.get("privileged"):
                problems.append(f"{name}: privileged")
            if "no-new-privileges:true" not in s.get("security_opt", []):
                problems.append(f"{name}: security_opt no-new-privileges:true is missing")
            if s.get("user") in ("root", "0", 0):
                problems.append(f"{name}: runs as root")
            if s.get("ports") and name not in ("envoy", "webhook-ingest"):
                problems.append(f"{name} publishes ports; only envoy and webhook-ingest may")
            b = s.get("build")
            if b and b.get("target") not in SERVICE_IMAGE_TARGETS:
                problems.append(f"{name}: build target {b.get('target')} is not an image target")
        # Stop timeouts: SIGKILL only after the service's whole shutdown (SHUTDOWN_GRACE_SECS,
        # one deadline for everything) has had its time, for every service.
        common_grace = max((g for g in map(compose_grace, svcs.values()) if g is not None), default=None)
        for name, s in svcs.items():
            stop = s.get("stop_grace_period")
            secs = duration_secs(stop) if stop is not None else None
            if secs is None:
                problems.append(f"{name}: stop_grace_period is missing or unreadable ({stop!r}); "
                                f"compose's default (10s) is not above the shutdown grace")
                continue
            grace = compose_grace(s)
            if grace is None:
                grace = common_grace if common_grace is not None else 10
            if secs <= grace:
                problems.append(f"{name}: stop_grace_period {stop} must be above SHUTDOWN_GRACE_SECS ({grace}s)")
        # Secrets only through interpolation from deploy/.env: never a literal in the file.
        raw = yaml.safe_load(open(self.p("docker-compose.yml")))
        secret_vars = {v for c in self.sources.components.values() for v, r in c["reads"].items() if r["secret"]}
        secret_vars |= {"POSTGRES_PASSWORD"}

        def walk_env(node, where):
            if isinstance(node, dict):
                for k, v in node.items():
                    if k in secret_vars and isinstance(v, str) and "${" not in v:
                        problems.append(f"{where}: {k} is a literal; secrets come from deploy/.env (${{{k}}})")
                    walk_env(v, f"{where}.{k}")
            elif isinstance(node, list):
                for i, v in enumerate(node):
                    walk_env(v, f"{where}[{i}]")
        walk_env(raw, "docker-compose.yml")
        fail_if(problems)

    def check_env_example(self):
        problems = []
        secretish = re.compile(r"(PASSWORD|SECRET|TOKEN|API_KEY)")
        for n, line in enumerate(open(self.p("deploy", "env.example")), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, _, value = line.partition("=")
            if secretish.search(key) and value and not value.startswith("replace-me"):
                problems.append(f"deploy/env.example:{n}: {key} must be empty or a replace-me placeholder")
        for path in ("deploy/.env", "deploy/secrets/jwks.json"):
            if run(["git", "-C", self.repo, "check-ignore", "-q", path]).returncode != 0:
                problems.append(f"{path} is not git-ignored")
        dockerignore = open(self.p(".dockerignore")).read().split()
        for pat in ("deploy/.env", "deploy/secrets", ".git", "build"):
            if pat not in dockerignore:
                problems.append(f".dockerignore must exclude {pat}")
        # No key material or obvious credentials anywhere in the deployment description.
        for root in (self.p("deploy"), self.p("docker-compose.yml")):
            files = [root] if os.path.isfile(root) else [os.path.join(r, f) for r, _, fs in os.walk(root) for f in fs]
            for f in files:
                rel = os.path.relpath(f, self.repo)
                if rel.startswith(("deploy/secrets", "deploy/.env")):
                    continue
                text = open(f, errors="replace").read()
                if re.search(r"-----BEGIN [A-Z ]*PRIVATE KEY-----", text):
                    problems.append(f"{rel}: contains a private key")
                for m in re.finditer(r"postgres(?:ql)?://[^:\s/]+:([^@\s]+)@", text):
                    if not m.group(1).startswith("${"):
                        problems.append(f"{rel}: a database URL with a literal password")
        fail_if(problems)

    # kustomize ------------------------------------------------------------------------------------------
    def check_kustomize(self):
        problems = []
        for name, path in (("base", "deploy/k8s/base"), ("overlay", "deploy/k8s/overlays/example")):
            p = run(["kubectl", "kustomize", self.p(path)])
            if p.returncode != 0:
                problems.append(f"kubectl kustomize {path}: {p.stderr.strip()[:1500]}")
                continue
            docs = [d for d in yaml.safe_load_all(p.stdout) if d]
            self.k8s[name] = docs
            with open(os.path.join(self.work, f"k8s-{name}.yaml"), "w") as f:
                f.write(p.stdout)
        fail_if(problems)
        return [f"{n}: {len(d)} objects" for n, d in self.k8s.items()]

    def check_k8s_schema(self):
        if not self.k8s:
            raise Failure("nothing rendered (see kustomize)")
        tools = os.path.join(self.work, "node-tools")
        os.makedirs(tools, exist_ok=True)
        lock_src = self.p("tests", "deploy", "package-lock.json")
        stamp = os.path.join(tools, "node_modules", ".outcall-lock")
        current = open(lock_src).read()
        if not (os.path.exists(stamp) and open(stamp).read() == current):
            for f in ("package.json", "package-lock.json"):
                shutil.copyfile(self.p("tests", "deploy", f), os.path.join(tools, f))
            p = run(["npm", "ci", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], cwd=tools)
            if p.returncode != 0:
                raise Failure("npm ci (kubernetes-models, for the schema check) failed:\n" + p.stderr[-1500:])
            open(stamp, "w").write(current)
        notes, problems = [], []
        for name, docs in self.k8s.items():
            js = os.path.join(self.work, f"k8s-{name}.json")
            json.dump(docs, open(js, "w"))
            p = run(["node", self.p("tests", "deploy", "validate_k8s.cjs"), js],
                    env=dict(os.environ, NODE_PATH=os.path.join(tools, "node_modules")))
            lines = (p.stdout + p.stderr).strip().splitlines()
            if p.returncode != 0:
                problems += [f"{name}: {l}" for l in lines]
            else:
                notes.append(f"{name}: {lines[-1] if lines else ''}")
        fail_if(problems)
        return notes

    def check_k8s_policy(self):
        problems = []
        for variant, objs in self.k8s.items():
            problems += [f"{variant}: {x}" for x in self.k8s_policy_problems(objs)]
        fail_if(problems)

    def k8s_policy_problems(self, objs):
        idx = k8s_index(objs)
        out = []
        if any(o["kind"] == "Secret" for o in objs):
            out.append("renders a Secret: secrets are referenced by name, their values live outside git")
        workloads = [o for o in objs if o["kind"] in ("Deployment", "Job")]
        deployments = {o["metadata"]["name"]: o for o in objs if o["kind"] == "Deployment"}
        want = {c["k8s"][1] for c in self.sources.components.values() if c["k8s"] and c["k8s"][0] == "Deployment"}
        want.add("envoy")
        for name in sorted(want - set(deployments)):
            out.append(f"Deployment {name} is missing")
        if ("Job", "outcall-migrate") not in idx:
            out.append("the migration Job outcall-migrate is missing")
        for o in workloads:
            wid = f"{o['kind']}/{o['metadata']['name']}"
            spec = pod_spec(o)
            psc = spec.get("securityContext", {})
            sa = spec.get("serviceAccountName")
            if not sa or ("ServiceAccount", sa) not in idx:
                out.append(f"{wid}: needs its own ServiceAccount (has {sa})")
            if spec.get("automountServiceAccountToken") is not False:
                out.append(f"{wid}: automountServiceAccountToken must be false")
            if (psc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
                out.append(f"{wid}: pod seccompProfile must be RuntimeDefault")
            for c in spec.get("containers", []) + spec.get("initContainers", []):
                cid = f"{wid} container {c['name']}"
                sc = c.get("securityContext", {})
                if not (sc.get("runAsNonRoot") or psc.get("runAsNonRoot")):
                    out.append(f"{cid}: runAsNonRoot")
                uid = sc.get("runAsUser", psc.get("runAsUser"))
                if not isinstance(uid, int) or uid == 0:
                    out.append(f"{cid}: needs a numeric non-root runAsUser")
                if sc.get("readOnlyRootFilesystem") is not True:
                    out.append(f"{cid}: readOnlyRootFilesystem must be true")
                if sc.get("allowPrivilegeEscalation") is not False:
                    out.append(f"{cid}: allowPrivilegeEscalation must be false")
                if "ALL" not in (sc.get("capabilities") or {}).get("drop", []):
                    out.append(f"{cid}: capabilities.drop must include ALL")
                if sc.get("privileged"):
                    out.append(f"{cid}: privileged")
                res = c.get("resources", {})
                for part in ("requests", "limits"):
                    for r in ("cpu", "memory"):
                        if r not in (res.get(part) or {}):
                            out.append(f"{cid}: resources.{part}.{r} is missing")
        for name, o in deployments.items():
            c = pod_spec(o)["containers"][0]
            # SIGKILL only after the preStop pause and the whole shutdown (one SHUTDOWN_GRACE_SECS
            # deadline; the services' default is 10 s when it is not set) have had their time.
            comp = self.sources.components.get(name)
            grace = 0.0
            if comp is not None:
                value = k8s_env(objs, "Deployment", name).get("SHUTDOWN_GRACE_SECS", {}).get("value")
                grace = float(value) if value not in (None, "") else 10.0
            budget = grace + pre_stop_pause(c)
            tgps = pod_spec(o).get("terminationGracePeriodSeconds", 30)
            if not isinstance(tgps, int) or tgps <= budget:
                out.append(f"Deployment/{name}: terminationGracePeriodSeconds {tgps} must be above "
                           f"SHUTDOWN_GRACE_SECS + the preStop pause ({budget:g}s)")
            for probe in ("readinessProbe", "livenessProbe"):
                if probe not in c:
                    out.append(f"Deployment/{name}: {probe} is missing")
            comp = self.sources.components.get(name)
            if comp and comp["grpc_port"]:
                for probe in ("readinessProbe", "livenessProbe"):
                    port = (c.get(probe) or {}).get("grpc", {}).get("port")
                    if port != comp["grpc_port"]:
                        out.append(f"Deployment/{name}: {probe} must be a gRPC probe on {comp['grpc_port']} (has {port})")
            labels = o["spec"]["template"]["metadata"]["labels"]
            if not any(s["kind"] == "Service" and s["spec"].get("selector") and
                       labels_match(s["spec"]["selector"], labels) for s in objs):
                out.append(f"Deployment/{name}: no Service selects its pods")
            if not any(s["kind"] == "PodDisruptionBudget" and
                       labels_match(s["spec"]["selector"].get("matchLabels"), labels) for s in objs):
                out.append(f"Deployment/{name}: no PodDisruptionBudget")
            if not any(s["kind"] == "HorizontalPodAutoscaler" and s["spec"]["scaleTargetRef"]["kind"] == "Deployment"
                       and s["spec"]["scaleTargetRef"]["name"] == name for s in objs):
                out.append(f"Deployment/{name}: no HorizontalPodAutoscaler")
        # Services exposed outside the cluster: Envoy and webhook-ingest only.
        for s in objs:
            if s["kind"] == "Service" and s["spec"].get("type") in ("LoadBalancer", "NodePort"):
                app = (s["spec"].get("selector") or {}).get("app.kubernetes.io/name")
                if app not in ("envoy", "webhook-ingest"):
                    out.append(f"Service/{s['metadata']['name']} exposes {app} outside the cluster")
            if s["kind"] == "Ingress":
                for r in s["spec"].get("rules", []):
                    for pth in r.get("http", {}).get("paths", []):
                        if pth["backend"]["service"]["name"] != "envoy":
                            out.append(f"Ingress/{s['metadata']['name']} routes to {pth['backend']['service']['name']}")
        out += self.network_problems(objs)
        return out

    def network_problems(self, objs):
        """Who may reach each (app, port), from the NetworkPolicies."""
        out = []
        pols = [o for o in objs if o["kind"] == "NetworkPolicy" and "Ingress" in o["spec"].get("policyTypes", ["Ingress"])]
        if not any(p["spec"].get("podSelector") in ({}, None) and not p["spec"].get("ingress") for p in pols):
            out.append("no default-deny ingress NetworkPolicy (podSelector {} without rules)")

        def sources(app, port):
            found = set()
            for p in pols:
                if not labels_match(p["spec"].get("podSelector", {}).get("matchLabels"), {"app.kubernetes.io/name": app}):
                    continue
                for rule in p["spec"].get("ingress", []):
                    ports = [x.get("port") for x in rule.get("ports", [])]
                    if ports and port not in ports:
                        continue
                    if not rule.get("from"):
                        found.add("anyone")
                    for f in rule.get("from", []):
                        if "podSelector" in f and "namespaceSelector" not in f:
                            found.add((f["podSelector"].get("matchLabels") or {}).get("app.kubernetes.io/name", "any pod"))
                        else:
                            found.add("namespace " + json.dumps(f.get("namespaceSelector", f.get("ipBlock"))))
            return found

        comps = self.sources.components
        allowed = {}
        for name, c in comps.items():
            if c["k8s"] and c["k8s"][0] == "Deployment" and c["grpc_port"]:
                # Who calls a gRPC service: Envoy if the transcoder serves it, and any component
                # whose sources name one of its gRPC services (webhook-ingest -> CallEventSink).
                callers = set()
                transcoded = set(self.transcoder().get("services", []))
                if transcoded & set(c["grpc_services"]):
                    callers.add("envoy")
                for other, oc in comps.items():
                    if other != name and oc["k8s"] and re.search(re.escape(name) + r":" + str(c["grpc_port"]),
                                                                  json.dumps(oc["reads"]) + self.k8s_text_for(other, objs)):
                        callers.add(other)
                allowed[(name, c["grpc_port"])] = callers
        for (app, port), callers in allowed.items():
            got = sources(app, port)
            extra = got - callers
            if extra:
                out.append(f"{app}:{port} (gRPC) is reachable by {sorted(extra)}; only {sorted(callers) or 'nobody'} may")
        # Public ("anyone") only on Envoy's HTTP port and webhook-ingest's HTTPS port.
        for p in pols:
            app = (p["spec"].get("podSelector", {}).get("matchLabels") or {}).get("app.kubernetes.io/name")
            for rule in p["spec"].get("ingress", []):
                if not rule.get("from"):
                    ports = {x.get("port") for x in rule.get("ports", [])} or {"every port"}
                    ok = (app == "envoy" and ports == {8080}) or (app == "webhook-ingest" and ports == {self.webhook_port()})
                    if not ok:
                        out.append(f"NetworkPolicy/{p['metadata']['name']} opens {app} {sorted(map(str, ports))} to anyone")
        return out

    def k8s_text_for(self, comp, objs):
        c = self.sources.components[comp]
        try:
            env = k8s_env(objs, *c["k8s"])
        except (KeyError, Failure):
            return ""
        return json.dumps({k: v["value"] for k, v in env.items()})

    # envoy ----------------------------------------------------------------------------------------------
    def hcm(self, listener_name):
        for l in self.envoy["static_resources"]["listeners"]:
            if l["name"] == listener_name:
                return l["filter_chains"][0]["filters"][0]["typed_config"]
        raise Failure(f"envoy.yaml: listener {listener_name} is missing")

    def http_filter(self, name):
        for f in self.hcm("public_http")["http_filters"]:
            if f["name"] == name:
                return f["typed_config"]
        raise Failure(f"envoy.yaml: http filter {name} is missing")

    def transcoder(self):
        return self.http_filter("envoy.filters.http.grpc_json_transcoder")

    def cluster_target(self, name):
        for c in self.envoy["static_resources"]["clusters"]:
            if c["name"] == name:
                sa = c["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]
                return sa["address"], sa["port_value"], c
        raise Failure(f"envoy.yaml: cluster {name} is missing")

    def webhook_port(self):
        """webhook-ingest's HTTPS port, as compose configures it (8443 when not rendered)."""
        env = (self.compose or {}).get("services", {}).get("webhook-ingest", {}).get("environment", {})
        if "WEBHOOK_LISTEN_ADDRESS" in env:
            return host_port(env["WEBHOOK_LISTEN_ADDRESS"])[1]
        return 8443

    @staticmethod
    def route_for(routes, method, path):
        for r in routes:
            m = r["match"]
            hit = False
            if "path" in m:
                hit = path == m["path"]
            elif "path_separated_prefix" in m:
                pre = m["path_separated_prefix"]
                hit = path == pre or path.startswith(pre + "/")
            elif "prefix" in m:
                hit = path.startswith(m["prefix"])
            elif "safe_regex" in m:
                hit = re.fullmatch(m["safe_regex"]["regex"], path) is not None
            for h in m.get("headers", []):
                if h["name"] == ":method":
                    want = h.get("string_match", {}).get("exact", h.get("exact_match"))
                    hit = hit and want == method
            if hit:
                return r
        return None

    def check_edge(self):
        """outcall-rest-edge routes as Envoy does, on the same descriptor set."""
        problems = []
        out = subprocess.run([self.a.edge_binary, "--print-routes", self.a.descriptor_set],
                             check=True, capture_output=True, text=True).stdout
        edge = json.loads(out)
        hcm = self.hcm("public_http")
        routes = hcm["route_config"]["virtual_hosts"][0]["routes"]
        jwt = self.http_filter("envoy.filters.http.jwt_authn")
        tc = self.transcoder()

        def jwt_required(path):
            for rule in jwt.get("rules", []):
                m = rule["match"]
                if ("prefix" in m and path.startswith(m["prefix"])) or m.get("path") == path:
                    return "requires" in rule
            return False

        services = load_descriptor(self.a)
        expected = sorted((v, t) for k, sv in services.items() if k in tc.get("services", [])
                          for v, t, _ in sv["bindings"])
        got = sorted((b["verb"], b["template"]) for b in edge["bindings"])
        if got != expected:
            problems.append(f"the edge's bindings differ from the transcoded services' bindings: "
                            f"only in the edge {sorted(set(got) - set(expected))}, "
                            f"only in the descriptor set {sorted(set(expected) - set(got))}")
        for b in edge["bindings"]:
            where = f"{b['verb']} {b['template']}"
            sample = re.sub(r"\{[^}]*\}", "123", b["template"])
            r = self.route_for(routes, b["verb"], sample)
            if r is None or "route" not in r:
                problems.append(f"{where}: Envoy has no route; the edge uses {b['route']}")
                continue
            envoy_timeout = duration_secs(r["route"].get("timeout", "15s"))
            mine = (b["route"], b["cluster"], b["timeout_secs"], b["jwt"])
            theirs = (r["name"], r["route"]["cluster"], envoy_timeout, jwt_required(sample))
            if mine != theirs:
                problems.append(f"{where}: edge (route, cluster, timeout, jwt) {mine} != Envoy {theirs}")
            if b["matched_rpc"] != b["rpc"]:
                problems.append(f"{where}: the edge matches {b['matched_rpc']} for its own sample path, not {b['rpc']}")
            if b["streaming"] and envoy_timeout != 0:
                problems.append(f"{where} is a stream: its route needs timeout 0s (Envoy would cut it)")
        envoy_routes = [(r["name"], r["route"]["cluster"], duration_secs(r["route"].get("timeout", "15s")))
                        for r in routes if "route" in r]
        edge_routes = [(r["name"], r["cluster"], r["timeout_secs"]) for r in edge["routes"]]
        if envoy_routes != edge_routes:
            problems.append(f"route lists differ (name, cluster, timeout), in order:\n  envoy {envoy_routes}\n  edge  {edge_routes}")
        nf = next((r for r in routes if r["name"] == "not_found"), None)
        if nf is None or nf["direct_response"]["body"]["inline_string"] != edge["not_found_body"]:
            problems.append("the not_found route's body differs from the edge's")
        mappers = (hcm.get("local_reply_config") or {}).get("mappers", [])
        envoy_codes = {}
        for m in mappers:
            status = m["filter"]["status_code_filter"]["comparison"]["value"]["default_value"]
            body = m.get("body_format_override", {}).get("json_format", {})
            if set(body) != {"code", "message", "details"} or body.get("message") != "%LOCAL_REPLY_BODY%":
                problems.append(f"local reply {status}: body must be {{code, message: %LOCAL_REPLY_BODY%, details: []}}")
            envoy_codes[str(status)] = body.get("code")
        if envoy_codes != edge["local_reply_codes"]:
            problems.append(f"local-reply codes differ: envoy {envoy_codes}, edge {edge['local_reply_codes']}")
        if tc.get("max_request_body_size") != edge["max_body_bytes"]:
            problems.append(f"body limit: envoy {tc.get('max_request_body_size')}, edge {edge['max_body_bytes']}")
        if (tc.get("print_options") or {}).get("stream_newline_delimited") is not True:
            problems.append("streams: Envoy must print them newline-delimited, as the edge does")
        for key, envoy_value in (("stream_idle_timeout_secs", hcm.get("stream_idle_timeout")),
                                 ("request_headers_timeout_secs", hcm.get("request_headers_timeout")),
                                 ("idle_timeout_secs", (hcm.get("common_http_protocol_options") or {}).get("idle_timeout"))):
            if duration_secs(envoy_value or "0s") != edge[key]:
                problems.append(f"{key}: envoy {envoy_value}, edge {edge[key]}")
        if not any(r["match"].get("prefix") == edge["jwt_prefix"] and "requires" in r for r in jwt.get("rules", [])):
            problems.append(f"Envoy's JWT rule does not require a token on {edge['jwt_prefix']} as the edge does")
        fail_if(problems)
        return [f"{len(edge['bindings'])} bindings and {len(edge_routes)} routes agree"]

    def check_envoy(self):
        problems = []
        services = load_descriptor(self.a)
        tc = self.transcoder()
        pkgs = {v["package"] for k, v in services.items() if k.startswith("outcall.")}
        with_rest = sorted(k for k, v in services.items() if v["bindings"] and k.startswith("outcall."))
        listed = tc.get("services", [])
        if sorted(listed) != with_rest:
            problems.append(f"transcoder services {sorted(listed)} != services with REST bindings in the descriptor set {with_rest}")
        for s in listed:
            if s not in services:
                problems.append(f"transcoder names {s}, which the descriptor set does not define")
            elif not s.startswith(tuple(p + "." for p in pkgs)):
                problems.append(f"transcoder names {s} outside the package(s) {sorted(pkgs)}")
        if tc.get("proto_descriptor") != "/etc/envoy/proto/outcall.pb":
            problems.append("proto_descriptor must be /etc/envoy/proto/outcall.pb (where the envoy image has it)")
        dockerfile = open(self.p("deploy", "docker", "Dockerfile")).read()
        rel = os.path.relpath(self.a.descriptor_set, self.a.build_dir)
        if not re.search(r"COPY --from=\w+ /src/build/" + re.escape(rel) + r" " + re.escape(tc.get("proto_descriptor", "")), dockerfile):
            problems.append(f"the Dockerfile's envoy stage must copy build/{rel} to {tc.get('proto_descriptor')}")
        expect = {"convert_grpc_status": True, "auto_mapping": False, "match_incoming_request_route": True}
        for k, v in expect.items():
            if tc.get(k) is not v:
                problems.append(f"transcoder {k} must be {v}")
        po = tc.get("print_options", {})
        if po.get("always_print_primitive_fields") is not True or po.get("preserve_proto_field_names") is not False:
            problems.append("print_options: always_print_primitive_fields true, preserve_proto_field_names false (json_name)")
        if (tc.get("request_validation_options") or {}).get("reject_unknown_method") is not True:
            problems.append("request_validation_options.reject_unknown_method must be true")

        # Filter order and JWT.
        names = [f["name"] for f in self.hcm("public_http")["http_filters"]]
        order = ["envoy.filters.http.health_check", "envoy.filters.http.jwt_authn",
                 "envoy.filters.http.grpc_json_transcoder", "envoy.filters.http.router"]
        if [n for n in names if n in order] != order or names[-1] != "envoy.filters.http.router":
            problems.append(f"http filters must run in the order {order} (router last); have {names}")
        jwt = self.http_filter("envoy.filters.http.jwt_authn")
        providers = jwt.get("providers", {})
        for pname, prov in providers.items():
            if prov.get("forward") is not True:
                problems.append(f"jwt provider {pname}: forward must be true (the services verify again)")
            if not prov.get("issuer") or not prov.get("audiences"):
                problems.append(f"jwt provider {pname}: issuer and audiences must be set")
            if not (prov.get("local_jwks") or prov.get("remote_jwks")):
                problems.append(f"jwt provider {pname}: keys from local_jwks or remote_jwks")

        def jwt_required(path):
            for rule in jwt.get("rules", []):
                m = rule["match"]
                if ("prefix" in m and path.startswith(m["prefix"])) or m.get("path") == path:
                    return "requires" in rule
            return False

        # Every binding: route -> cluster -> the service's host and gRPC port; JWT required.
        routes = self.hcm("public_http")["route_config"]["virtual_hosts"][0]["routes"]
        owner = {}  # full service name -> component
        for comp, c in self.sources.components.items():
            for s in c["grpc_services"]:
                owner.setdefault(s, comp)
        used_routes = set()
        for svc in with_rest:
            comp = owner.get(svc)
            if comp is None:
                problems.append(f"{svc}: no component under services/ serves it")
                continue
            for verb, tmpl, method in services[svc]["bindings"]:
                path = re.sub(r"\{[^}]*\}", "123", tmpl)
                r = self.route_for(routes, verb, path)
                if r is None or "route" not in r:
                    problems.append(f"{verb} {tmpl} ({svc}.{method}) has no route to a cluster")
                    continue
                used_routes.add(r["name"])
                host, port, _ = self.cluster_target(r["route"]["cluster"])
                if (host, port) != (comp, self.sources.components[comp]["grpc_port"]):
                    problems.append(f"{verb} {tmpl} ({svc}.{method}) goes to {host}:{port}, not {comp}:{self.sources.components[comp]['grpc_port']}")
                if not jwt_required(path):
                    problems.append(f"{verb} {tmpl} is reachable without a JWT")
        for r in routes:
            if "route" in r and r["route"]["cluster"] in ("call_gateway", "stats") and r["name"] not in used_routes:
                problems.append(f"route {r['name']} serves no REST binding of the descriptor set")
        # The webhook: routed to webhook-ingest's HTTPS port, no JWT, not transcoded.
        hook = self.route_for(routes, "POST", "/api/webhooks/elevenlabs")
        if hook is None or "route" not in hook:
            problems.append("POST /api/webhooks/elevenlabs has no route")
        else:
            host, port, cl = self.cluster_target(hook["route"]["cluster"])
            if (host, port) != ("webhook-ingest", self.webhook_port()):
                problems.append(f"the webhook goes to {host}:{port}, not webhook-ingest:{self.webhook_port()}")
            if jwt_required("/api/webhooks/elevenlabs"):
                problems.append("the webhook must not need a JWT (its HMAC signature authenticates it)")
            per = (hook.get("typed_per_filter_config") or {}).get("envoy.filters.http.grpc_json_transcoder", {})
            if per.get("disabled") is not True:
                problems.append("the transcoder must be disabled on the webhook route")
            if "transport_socket" not in cl:
                problems.append("webhook-ingest speaks HTTPS: its cluster needs a TLS transport socket")
        # Nothing strips the headers the services need.
        text = json.dumps(self.envoy).lower()
        for m in re.finditer(r'"request_headers_to_remove": \[([^\]]*)\]', text):
            for h in ("authorization", "idempotency-key"):
                if h in m.group(1):
                    problems.append(f"envoy.yaml removes the {h} header")
        # JWT issuer/audience agree with the services (compose and Kubernetes).
        issuers, audiences = set(), set()
        for prov in providers.values():
            issuers.add(prov.get("issuer"))
            audiences |= set(prov.get("audiences", []))
        for where, envs in self.service_envs().items():
            for comp, env in envs.items():
                if "JWT_ISSUER" not in self.sources.components[comp]["reads"]:
                    continue
                iss = env.get("JWT_ISSUER")
                if iss not in issuers:
                    problems.append(f"{where} {comp}: JWT_ISSUER {iss!r} differs from Envoy's issuer {sorted(issuers)}")
                auds = {a.strip() for a in (env.get("JWT_AUDIENCE") or "").split(",")}
                if not audiences <= auds:
                    problems.append(f"{where} {comp}: JWT_AUDIENCE {sorted(auds)} lacks Envoy's {sorted(audiences - auds)}")
        # Access log: only operators that cannot carry a path or a query string.
        allowed = {"START_TIME", "REQ(X-REQUEST-ID)", "ROUTE_NAME", "REQ(:METHOD)", "RESPONSE_CODE", "GRPC_STATUS",
                   "RESPONSE_FLAGS", "RESPONSE_CODE_DETAILS", "DURATION", "RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)",
                   "BYTES_RECEIVED", "BYTES_SENT", "UPSTREAM_CLUSTER", "UPSTREAM_HOST",
                   "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT", "REQ(USER-AGENT)", "REQ(:AUTHORITY)", "PROTOCOL"}
        logs = 0
        for l in self.envoy["static_resources"]["listeners"]:
            hcm = l["filter_chains"][0]["filters"][0]["typed_config"]
            for al in hcm.get("access_log", []):
                logs += 1
                fmt = json.dumps(al.get("typed_config", {}).get("log_format", {"default format": "%REQ(:PATH)%"}))
                for op in re.findall(r"%([A-Z_]+(?:\([^)%]*\))?(?::\d+)?)%", fmt):
                    if op not in allowed:
                        problems.append(f"access log of {l['name']} uses %{op}%, which may record a path, query or identifier")
        if logs == 0:
            problems.append("the public listener has no access log")
        if self.envoy["admin"]["address"]["socket_address"]["address"] != "127.0.0.1":
            problems.append("the admin interface must listen on 127.0.0.1 only")
        # Typo guard for the extension types used.
        known = {
            "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
            "envoy.extensions.filters.http.health_check.v3.HealthCheck",
            "envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
            "envoy.extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder",
            "envoy.extensions.filters.http.router.v3.Router",
            "envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
            "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
            "envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig",
            "envoy.config.route.v3.FilterConfig",
        }
        for t in re.findall(r'"@type": "type.googleapis.com/([^"]+)"', json.dumps(self.envoy)):
            if t not in known:
                problems.append(f"unexpected @type {t}")
        # Files Envoy reads are mounted where it reads them, in compose and in Kubernetes.
        need = {os.path.dirname(p["local_jwks"]["filename"]) for p in providers.values() if "local_jwks" in p}
        for c in self.envoy["static_resources"]["clusters"]:
            ts = c.get("transport_socket", {}).get("typed_config", {})
            ca = ts.get("common_tls_context", {}).get("validation_context", {}).get("trusted_ca", {}).get("filename")
            if ca:
                need.add(os.path.dirname(ca))
        compose_mounts = {os.path.dirname(str(v).split(":")[1]) if isinstance(v, str) else os.path.dirname(v.get("target", ""))
                          for v in (self.compose or {}).get("services", {}).get("envoy", {}).get("volumes", [])}
        for d in sorted(need - compose_mounts):
            problems.append(f"compose does not mount anything into {d} for Envoy")
        for variant, objs in self.k8s.items():
            dep = k8s_index(objs).get(("Deployment", "envoy"))
            if dep is None:
                continue
            c = pod_spec(dep)["containers"][0]
            mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
            for d in sorted(need - mounts):
                problems.append(f"{variant}: Deployment/envoy mounts nothing at {d}")
            args = " ".join(c.get("args", []))
            cm_mount = re.search(r"--config-path (\S+)", args)
            if not cm_mount or os.path.dirname(cm_mount.group(1)) not in mounts:
                problems.append(f"{variant}: Deployment/envoy must run with --config-path inside its envoy-config mount")
        fail_if(problems)
        return [f"{len(with_rest)} transcoded services, "
                f"{sum(len(services[s]['bindings']) for s in with_rest)} REST bindings routed"]

    # env ---------------------------------------------------------------------------------------------
    def service_envs(self):
        """{"compose"|"kubernetes <variant>": {component: {VAR: value or None}}}"""
        out = {"compose": {}}
        svcs = (self.compose or {}).get("services", {})
        for name, c in self.sources.components.items():
            if c["compose"] in svcs:
                env = svcs[c["compose"]].get("environment") or {}
                out["compose"][name] = {k: ("" if v is None else str(v)) for k, v in env.items()}
        for variant, objs in self.k8s.items():
            out[f"kubernetes {variant}"] = {}
            for name, c in self.sources.components.items():
                if c["k8s"] and (c["k8s"][0], c["k8s"][1]) in k8s_index(objs):
                    out[f"kubernetes {variant}"][name] = {k: v["value"] for k, v in k8s_env(objs, *c["k8s"]).items()}
        return out

    def defaulted(self, target):
        """{component or "all": [VAR]} left to built-in defaults in `target` (both + its own)."""
        out = {}
        for part in (self.policy.get("defaulted") or {}, (self.policy.get(target) or {}).get("defaulted") or {}):
            for comp, names in part.items():
                out.setdefault(comp, []).extend(names or [])
        return out

    def check_env(self):
        problems, notes = [], []
        comps = self.sources.components
        pending = self.policy.get("pending") or {}
        # Variables docs/configuration.md lists for a component count as known even before its
        # code reads them (the docs lead when a feature is being written).
        documented = self.sources.documented()
        extra_reads = {}
        # compose's migrate step also runs deploy/docker/compose-migrate.sh.
        script = open(self.p("deploy", "docker", "compose-migrate.sh")).read()
        extra_reads["outcall-migrate"] = set(re.findall(r"\\getenv\s+\w+\s+([A-Z][A-Z0-9_]*)", script))
        for comp, names in pending.items():
            for n in names:
                if n in comps.get(comp, {}).get("reads", {}):
                    notes.append(f"note: {comp} now reads {n}; it can leave 'pending' in deploy/env-policy.yaml")
        for target in ("compose", "kubernetes"):
            defaulted = self.defaulted(target)
            for comp, names in defaulted.items():
                for n in names:
                    # Stale entries are only noted: sources change under concurrent work, and an
                    # extra "defaulted" entry cannot hide a missing setting.
                    if comp == "all":
                        if not any(n in c["reads"] for c in comps.values()):
                            notes.append(f"note: env-policy {target}.defaulted.all: {n} is read by no component")
                    elif comp not in comps or n not in comps[comp]["reads"]:
                        notes.append(f"note: env-policy {target}.defaulted.{comp}: {comp} does not read {n}")
        for where, envs in self.service_envs().items():
            target = where.split()[0]
            defaulted = self.defaulted(target)
            for comp, c in comps.items():
                if target == "compose" and not c["compose"]:
                    continue
                if target == "kubernetes" and not c["k8s"]:
                    continue
                if comp not in envs:
                    problems.append(f"{where}: {comp} is not deployed")
                    continue
                env = envs[comp]
                reads = c["reads"]
                # Envoy, probes, policies and peers use the source's default ports.
                for var, port in (("GRPC_LISTEN_ADDRESS", c["grpc_port"]), ("METRICS_LISTEN_ADDRESS", c["metrics_port"])):
                    if port and env.get(var) and host_port(env[var])[1] != port:
                        problems.append(f"{where}: {comp} {var}={env[var]}, but everything else expects port {port}")
                ok_default = set(defaulted.get("all", [])) | set(defaulted.get(comp, []))
                for var, r in sorted(reads.items()):
                    is_set = var in env or (r["secret"] and f"{var}_FILE" in env)
                    if r["required"]:
                        val = env.get(var, env.get(f"{var}_FILE"))
                        if not is_set or val == "":
                            problems.append(f"{where}: {comp} requires {var}, which is not set")
                    elif not is_set and var not in ok_default:
                        problems.append(f"{where}: {comp} reads {var}: set it, or list it as deliberately "
                                        f"defaulted in deploy/env-policy.yaml (defaulted, or {target}.defaulted)")
                known = set(reads) | {f"{v}_FILE" for v, r in reads.items() if r["secret"]}
                known |= set(pending.get(comp, [])) | documented.get(comp, set())
                if target == "compose":
                    known |= extra_reads.get(comp, set())
                for var in sorted(set(env) - known):
                    problems.append(f"{where}: {comp} is given {var}, which it does not read (typo, or stale?)")
        # Required secrets in Kubernetes must not come from optional references.
        for variant, objs in self.k8s.items():
            for comp, c in comps.items():
                if not c["k8s"] or (c["k8s"][0], c["k8s"][1]) not in k8s_index(objs):
                    continue
                env = k8s_env(objs, *c["k8s"])
                for var, r in c["reads"].items():
                    if r["required"] and env.get(var, {}).get("optional"):
                        problems.append(f"kubernetes {variant}: {comp} requires {var} but its secretKeyRef is optional")
                    if r["secret"] and var in env and env[var]["value"] not in (None, ""):
                        problems.append(f"kubernetes {variant}: {comp} gets the secret {var} as a literal value")
        fail_if(problems)
        counts = ", ".join(f"{n} {len(c['reads'])}" for n, c in comps.items())
        return [f"variables read: {counts}"] + notes

    # dockerfile --------------------------------------------------------------------------------------
    def check_dockerfile(self):
        problems, notes = [], []
        text = open(self.p("deploy", "docker", "Dockerfile")).read()
        text = re.sub(r"\\\n", " ", text)
        args = dict(re.findall(r"^ARG (\w+)=(\S+)", text, re.M))
        stages, cur = {}, None
        for line in text.splitlines():
            line = line.strip()
            m = re.match(r"FROM\s+(\S+)\s+AS\s+(\S+)", line, re.I)
            if m:
                base = re.sub(r"\$\{(\w+)\}", lambda x: args.get(x.group(1), x.group(0)), m.group(1))
                cur = stages[m.group(2)] = {"from": base, "lines": []}
            elif cur is not None and line and not line.startswith("#"):
                cur["lines"].append(line)

        def chain(name):
            seen = []
            while name in stages:
                seen.append(name)
                name = stages[name]["from"]
            return seen, name

        def last_user(name):
            for st in chain(name)[0]:
                for line in reversed(stages[st]["lines"]):
                    if line.startswith("USER "):
                        return line.split()[1]
            return None

        for t in SERVICE_IMAGE_TARGETS:
            if t not in stages:
                problems.append(f"no target {t}")
                continue
            names, image = chain(t)
            user = last_user(t)
            if not user or not re.fullmatch(r"\d+(:\d+)?", user) or user.split(":")[0] == "0":
                problems.append(f"target {t}: final USER must be a numeric non-root uid (has {user})")
            if t != "envoy" and image != "debian:12-slim":
                problems.append(f"target {t}: final image must build on debian:12-slim (has {image})")
            if t == "envoy" and not image.startswith("envoyproxy/envoy:v"):
                problems.append(f"target envoy: must build on a pinned envoyproxy/envoy:vX.Y.Z (has {image})")
            for st in names:
                for line in stages[st]["lines"]:
                    if "install-deps.sh" in line or "build.sh" in line:
                        problems.append(f"target {t}: stage {st} builds; the final image must only copy")
        builder = [s for s, v in stages.items() if v["from"] == "debian:12"]
        if not builder:
            problems.append("the builder must start from debian:12")
        elif not any("scripts/install-deps.sh" in l for l in stages[builder[0]]["lines"]):
            problems.append("the builder must install with scripts/install-deps.sh")
        if not any("scripts/build.sh" in l for v in stages.values() for l in v["lines"]):
            problems.append("the build must use scripts/build.sh")
        runtime_pkgs = set()
        for line in stages.get("runtime", {}).get("lines", []):
            m = re.search(r"apt-get install[^&]*?--no-install-recommends(.*?)(?:&&|$)", line)
            if m:
                runtime_pkgs |= set(m.group(1).split())
        for pk in sorted(runtime_pkgs):
            if pk.endswith("-dev") or pk in ("build-essential", "cmake", "g++", "gcc", "ninja-build", "clang-14"):
                problems.append(f"runtime stage installs {pk}, which is not a runtime package")
        # Every shared library the built binaries need comes from a package the runtime installs.
        needed = set()
        for b in self.a.binary:
            if not os.path.exists(b):
                problems.append(f"built binary {b} is missing (build everything first)")
                continue
            p = run(["readelf", "-d", b])
            needed |= set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", p.stdout))
        essential = {"libc.so.6", "libm.so.6", "libgcc_s.so.1", "libstdc++.so.6", "ld-linux-x86-64.so.2",
                     "libpthread.so.0", "libdl.so.2", "librt.so.1"}
        for lib in sorted(needed - essential):
            owners = run(["dpkg", "-S", f"*/{lib}"]).stdout
            pkgs = {l.split(":")[0] for l in owners.splitlines() if l.strip()}
            if not pkgs:
                problems.append(f"{lib}: no Debian package on this machine provides it")
            elif not pkgs & runtime_pkgs:
                problems.append(f"{lib} comes from {sorted(pkgs)}, none of which the runtime stage installs")
        # Compose and Kubernetes use these targets' images.
        for variant, objs in self.k8s.items():
            for o in objs:
                if o["kind"] in ("Deployment", "Job"):
                    for c in pod_spec(o)["containers"]:
                        target = c["image"].split("/")[-1].split(":")[0]
                        if target not in stages:
                            problems.append(f"{variant}: {o['kind']}/{o['metadata']['name']} uses image {c['image']}, "
                                            f"which no Dockerfile target builds")
        fail_if(problems)
        notes.append(f"{len(needed)} shared libraries needed by {len(self.a.binary)} binaries are provided")
        return notes


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--work-dir", required=True)
    ap.add_argument("--descriptor-set", required=True)
    ap.add_argument("--protoc", required=True)
    ap.add_argument("--proto-include", action="append", default=[])
    ap.add_argument("--binary", action="append", default=[])
    ap.add_argument("--edge-binary", help="outcall-rest-edge: check it routes as envoy.yaml does")
    args = ap.parse_args()

    r = Runner()
    checks = DeployChecks(args)
    r.run("tools", checks.check_tools)
    r.run("yamllint", checks.check_yamllint)
    r.run("compose", checks.check_compose)
    r.run("env.example and ignore files", checks.check_env_example)
    r.run("kustomize", checks.check_kustomize)
    r.run("k8s-schema", checks.check_k8s_schema)
    r.run("k8s-policy", checks.check_k8s_policy)
    r.run("envoy", checks.check_envoy)
    r.run("env", checks.check_env)
    r.run("dockerfile", checks.check_dockerfile)
    if args.edge_binary:
        r.run("edge", checks.check_edge)
    print(f"deploy: {r.passed} passed, {r.failed} failed")
    return 0 if r.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
