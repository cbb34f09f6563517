#!/usr/bin/env python3
"""Outbound webhooks across a crash of the sender: the driver of tests/outbound/crash_test.sh.

  crash_test.py crash    events committed, the receiver slow, call-gateway SIGKILLed while a
                         request is in flight at the receiver and more events wait behind it
  crash_test.py verify   (after the stack started call-gateway again) everything delivered;
                         what the receiver saw checked against the outbox

The events: APPOINTMENTS patients and appointments synced (no event: a new appointment emits
none), then all of them synced as confirmed in one batch (one commit: APPOINTMENTS
appointment.confirmed events, claimed by one pass of the sender), then each canceled
(appointment.canceled, queued behind its confirmed: order per subject). The receiver answers
every request after SLOW_MS; call-gateway sends OUTBOX_WORKERS at a time, so the pass takes
several rounds, and it records a pass's results only when the whole pass is done. The kill comes
once a round was answered and a request of the next one arrived less than FRESH_S ago: the dead
sender had requests in flight, answers it never recorded, and events committed but not sent
(each appointment.canceled waits behind its confirmed).

At the kill: a request was in flight, and nothing queued behind it (its subject's later
events) had been sent. After the restart (the leases end after OUTBOX_LEASE_SECS):
  - the distinct webhook-ids the receiver saw are exactly the outbox's event ids (nothing lost,
    nothing else), and every request verified with the subscription's secret (the receiver uses
    the Standard Webhooks reference library);
  - per subject (appointment), the first arrivals follow the outbox order (confirmed, then
    canceled); a request's type and subject are its event's, and every copy of an event has the
    same body;
  - every request that was in flight at the kill arrived again after it (the dead sender could
    not know its answer), and deduplicating by webhook-id leaves exactly one request per event;
    the duplicates are counted and reported (at least once allows them);
  - every webhook_deliveries row is 'delivered', and those in flight at the kill were claimed
    again (attempts >= 2);
  - the restarted process is a new one, with the old one's environment;
  - the REST face lists the same events (GET /api/elevenlabs/webhook-events) and the
    subscription active with nothing pending.
Figures: an OUTBOUND_CRASH line, and summary.json and received.json in the artifacts directory.
Environment: what tests/support/stack.sh exports (STACK_URL, STACK_STATE, DATABASE_URL, JWT_*),
RECEIVER_URL, OUTCRASH_ARTIFACTS; tokens are minted here (HS256, the standard library's hmac).
"""
import base64
import datetime
import hashlib
import hmac
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

APPOINTMENTS = 20
SLOW_MS = 1500        # the receiver's answer delay before the kill: < OUTBOX_TIMEOUT_MS (2000)
FRESH_S = 0.5         # the request the kill waits for arrived less than this ago: in flight
EXPECTED_OUTBOX = {"OUTBOX_LEASE_SECS": "3", "OUTBOX_TIMEOUT_MS": "2000", "OUTBOX_POLL_MS": "100",
                   "OUTBOX_RETRY_BASE_MS": "200", "OUTBOX_WORKERS": "4"}
TYPES = ["appointment.confirmed", "appointment.canceled", "call.completed"]
HOOK_PATH = "/hooks/outcrash"

STACK_URL = os.environ["STACK_URL"]
STACK_STATE = os.environ["STACK_STATE"]
DATABASE_URL = os.environ["DATABASE_URL"]
RECEIVER_URL = os.environ["RECEIVER_URL"]
ARTIFACTS = os.environ["OUTCRASH_ARTIFACTS"]
STATE_FILE = os.path.join(ARTIFACTS, "crash-state.json")
PIDFILE = os.path.join(STACK_STATE, "run", "call-gateway.pid")
# Set by the shells between the two launches, not by the stack.
ENV_IGNORED = {"SHLVL", "_", "OLDPWD", "PWD"}


def log(msg):
    print(f"outbound_crash: {msg}", flush=True)


def fail(msg):
    print(f"outbound_crash: FAIL: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(perms):
    now = int(time.time())
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps({"iss": os.environ["JWT_ISSUER"],
                           "aud": os.environ["JWT_AUDIENCE"].split(",")[0],
                           "sub": "outbound-crash-test", "iat": now, "nbf": now - 5,
                           "exp": now + 600, "scope": " ".join(perms)}).encode())
    sig = b64(hmac.new(os.environ["JWT_HS256_SECRET"].encode(), f"{head}.{body}".encode(),
                       hashlib.sha256).digest())
    return f"{head}.{body}.{sig}"


def http(method, url, body=None, tok=None, headers=None, timeout=30):
    """(status, parsed JSON or text)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if tok:
        req.add_header("Authorization", f"Bearer {tok}")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    text = raw.decode("utf-8", "replace")
    try:
        return status, json.loads(text) if text else None
    except ValueError:
        return status, text


def api(method, path, body=None, tok=None, expect=200, headers=None):
    status, parsed = http(method, STACK_URL + path, body, tok, headers)
    check(status == expect, f"{method} {path}: HTTP {status} (expected {expect}): {parsed}")
    return parsed


def control(method, path, body=None):
    status, parsed = http(method, f"{RECEIVER_URL}/_control/{path}", body)
    check(status == 200, f"receiver {method} /_control/{path}: HTTP {status}: {parsed}")
    return parsed


def received():
    return control("GET", "received")


def psql(sql):
    out = subprocess.run(["psql", DATABASE_URL, "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                          "-c", sql], check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line != ""]


def wait_until(what, fn, timeout, every=0.1):
    """fn's first truthy value; fails after `timeout` seconds."""
    end = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = fn()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 (reported if it never succeeds)
            last = e
        if time.monotonic() > end:
            fail(f"timed out after {timeout} s waiting for {what}" + (f" (last error: {last})" if last else ""))
        time.sleep(every)


def arrived_at(rec):
    return datetime.datetime.fromisoformat(rec["receivedAt"].replace("Z", "+00:00")).timestamp()


def gateway_pid():
    with open(PIDFILE) as f:
        return int(f.read().strip())


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def process_env(pid):
    with open(f"/proc/{pid}/environ", "rb") as f:
        raw = f.read()
    env = {}
    for item in raw.split(b"\0"):
        if b"=" in item:
            k, v = item.split(b"=", 1)
            env[k.decode()] = v.decode("utf-8", "replace")
    return env


def env_digest(env):
    """A digest of the environment (it holds secrets: never written out)."""
    h = hashlib.sha256()
    for k in sorted(env):
        if k not in ENV_IGNORED:
            h.update(f"{k}={env[k]}\0".encode())
    return h.hexdigest()


def check_gateway_process(pid):
    exe = os.readlink(f"/proc/{pid}/exe")
    check(os.path.basename(exe).startswith("call-gateway"), f"pid {pid} is {exe}, not call-gateway")
    env = process_env(pid)
    for k, v in EXPECTED_OUTBOX.items():
        check(env.get(k) == v, f"call-gateway (pid {pid}) runs with {k}={env.get(k)!r}, not {v!r}")
    return env


# ------------------------------------------------------------------------------------------------

def crash():
    run = secrets.token_hex(3)
    admin = token(["webhooks:admin"])
    sync = token(["sync:write", "sync:read"])
    patients = [f"CR{run}-P{i:02d}" for i in range(1, APPOINTMENTS + 1)]
    appts = [f"CR{run}-A{i:02d}" for i in range(1, APPOINTMENTS + 1)]

    sub = api("POST", "/api/elevenlabs/webhook-subscriptions",
              {"url": RECEIVER_URL + HOOK_PATH, "eventTypes": TYPES, "description": "outbound_crash test"},
              admin, headers={"Idempotency-Key": f"outcrash-{run}"})
    secret = sub.get("secret", "")
    check(secret.startswith("whsec_"), f"create answered no secret: {sorted(sub)}")
    sub_id = sub["subscriptionId"]
    control("POST", "secrets", {"secrets": [secret]})
    sub_row = int(psql(f"SELECT id FROM webhook_subscriptions WHERE subscription_id = '{sub_id}'")[0][0])
    log(f"subscription {sub_id} -> {RECEIVER_URL}{HOOK_PATH} for {', '.join(TYPES)}")

    res = api("POST", "/api/elevenlabs/sync/patients", {"patients": [
        {"externalRef": p, "fullName": f"Paciente {i + 1:02d}", "phone": f"+57300555{1100 + i:04d}",
         "timeZone": "America/Bogota"} for i, p in enumerate(patients)]}, sync)
    check(res.get("created") == APPOINTMENTS, f"patients: {res}")
    at = (datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)
          + datetime.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def appointments(status):
        return {"appointments": [{"externalRef": a, "patientExternalRef": p, "scheduledAt": at,
                                  "doctorName": "Dr. García", "specialty": "Medicina general",
                                  "status": status} for a, p in zip(appts, patients)]}
    res = api("POST", "/api/elevenlabs/sync/appointments", appointments("scheduled"), sync)
    check(res.get("created") == APPOINTMENTS, f"appointments: {res}")
    check(psql("SELECT count(*) FROM webhook_events")[0][0] == "0", "a new appointment emitted an event")

    control("POST", "mode", {"mode": "slow", "delayMs": SLOW_MS})
    res = api("POST", "/api/elevenlabs/sync/appointments", appointments("confirmed"), sync)
    check(res.get("updated") == APPOINTMENTS, f"confirming: {res}")
    half = APPOINTMENTS // 2
    for a in appts[:half]:
        check(api("POST", f"/api/elevenlabs/sync/appointments/{a}/cancel", {}, sync)["status"] == "canceled", a)
    wait_until("a first request in flight at the receiver",
               lambda: any(r["answer"] is None for r in received()), 30, 0.02)
    # More events right before the kill: committed, queued behind their subject's head.
    for a in appts[half:]:
        check(api("POST", f"/api/elevenlabs/sync/appointments/{a}/cancel", {}, sync)["status"] == "canceled", a)
    committed = psql("SELECT event_id, event_type, subject FROM webhook_events ORDER BY id")
    check(len(committed) == 2 * APPOINTMENTS, f"{len(committed)} events committed, expected {2 * APPOINTMENTS}")

    pid = gateway_pid()
    env = check_gateway_process(pid)

    def ready():
        recs = received()
        now = time.time()
        answered = [r for r in recs if r["answer"] == 200]
        fresh = [r for r in recs if r["answer"] is None and now - arrived_at(r) < FRESH_S]
        return recs if answered and fresh else None
    before = wait_until("a request in flight after an answered one", ready, 60, 0.02)
    os.kill(pid, signal.SIGKILL)
    killed_at = time.time()
    wait_until(f"call-gateway (pid {pid}) to die", lambda: not alive(pid), 10, 0.02)
    control("POST", "mode", {"mode": "ok"})
    at_kill = received()  # the process is gone: nothing more arrives until the restart
    # Reaped too: scripts/up.sh takes a pid that still answers kill -0 (a zombie, until whoever
    # inherited it waits for it; a slow init here) for a running service.
    wait_until(f"call-gateway (pid {pid}) to be reaped", lambda: not os.path.exists(f"/proc/{pid}"), 60, 0.05)

    in_flight = sorted({r["webhookId"] for r in before
                        if r["answer"] is None and killed_at - arrived_at(r) < 2 * FRESH_S})
    answered = sorted({r["webhookId"] for r in before if r["answer"] == 200})
    arrived = {r["webhookId"] for r in at_kill}
    unsent = [e for e, _, _ in committed if e not in arrived]
    check(in_flight, "no request was in flight at the kill")
    # Order per subject: what follows an event in flight cannot have been sent yet.
    ids = [c[0] for c in committed]
    for e in in_flight:
        i = ids.index(e)
        subject = committed[i][2]
        later = [x for x, _, s in committed[i + 1:] if s == subject]
        early = [x for x in later if x in arrived]
        check(not early, f"{early} arrived while {e}, earlier about {subject}, was in flight")
        check(later, f"nothing about {subject} was queued behind {e}")
    log(f"SIGKILL call-gateway pid {pid}: {len(at_kill)} requests had arrived, {len(in_flight)} in flight, "
        f"{len(answered)} answered 200 but not recorded, {len(unsent)} of {len(committed)} committed events not sent")
    with open(STATE_FILE, "w") as f:
        json.dump({"subscription": sub_id, "subscription_row": sub_row, "pid": pid,
                   "env_digest": env_digest(env), "env_keys": sorted(set(env) - ENV_IGNORED),
                   "killed_at": killed_at, "max_seq_at_kill": max(r["seq"] for r in at_kill),
                   "arrived_at_kill": len(at_kill), "in_flight": in_flight, "answered": answered,
                   "unsent": unsent, "events_at_kill": len(committed)}, f, indent=1)


def verify():
    with open(STATE_FILE) as f:
        st = json.load(f)
    admin = token(["webhooks:admin"])
    pid = gateway_pid()
    check(pid != st["pid"] and alive(pid), f"call-gateway was not started again (pid file: {pid})")
    env = check_gateway_process(pid)
    if env_digest(env) != st["env_digest"]:
        keys = sorted(set(env) - ENV_IGNORED)
        fail("call-gateway was started again with another environment: variables only before "
             f"{sorted(set(st['env_keys']) - set(keys))}, only after {sorted(set(keys) - set(st['env_keys']))}, "
             "or a value changed")
    restarted_after = time.time() - st["killed_at"]

    n_events = st["events_at_kill"]
    sub_row = st["subscription_row"]

    def delivered():
        total, done = psql(f"SELECT count(*), count(*) FILTER (WHERE state = 'delivered') "
                           f"FROM webhook_deliveries WHERE subscription_id = {sub_row}")[0]
        return int(total) == n_events and int(done) == n_events
    wait_until(f"all {n_events} deliveries delivered", delivered, 120, 0.2)
    all_delivered_after = time.time() - st["killed_at"]
    # The requests the dead process left at the receiver are answered (into a closed socket) by now.
    recs = wait_until("no request in flight at the receiver",
                      lambda: (lambda rs: rs if all(r["answer"] is not None for r in rs) else None)(received()),
                      30, 0.1)
    with open(os.path.join(ARTIFACTS, "received.json"), "w") as f:
        json.dump(recs, f, indent=1)

    outbox = psql("SELECT e.id, e.event_id, e.event_type, e.subject, d.state, d.attempts, "
                  "(SELECT count(*) FROM webhook_attempts a WHERE a.delivery_id = d.id) "
                  f"FROM webhook_events e JOIN webhook_deliveries d ON d.event_row = e.id AND d.subscription_id = {sub_row} "
                  "ORDER BY e.id")
    check(len(outbox) == n_events, f"{len(outbox)} events in the outbox now, {n_events} at the kill")
    check(int(psql("SELECT count(*) FROM webhook_events")[0][0]) == n_events, "events without a delivery")
    events = {e: {"row": int(row), "type": t, "subject": s, "state": state, "attempts": int(att),
                  "logged": int(logged)} for row, e, t, s, state, att, logged in outbox}
    bad = [e for e, v in events.items() if v["state"] != "delivered"]
    check(not bad, f"deliveries not delivered: {bad}")
    types = {}
    for v in events.values():
        types[v["type"]] = types.get(v["type"], 0) + 1
    check(types == {"appointment.confirmed": APPOINTMENTS, "appointment.canceled": APPOINTMENTS},
          f"the outbox holds {types}")

    # Every request: ours, verified, its event's type and subject, the same body for an event.
    first, copies, bodies = {}, {}, {}
    for r in recs:
        e = r["webhookId"]
        check(r["method"] == "POST" and r["path"] == HOOK_PATH, f"request {r['seq']}: {r['method']} {r['path']}")
        check(r["verified"] is True, f"request {r['seq']} ({e}) did not verify: {r['error']}")
        check(e in events, f"request {r['seq']}: webhook-id {e!r} is no event of the outbox")
        check(r["type"] == events[e]["type"], f"request {r['seq']}: type {r['type']}, the event's is {events[e]['type']}")
        check(r["subject"] == events[e]["subject"],
              f"request {r['seq']}: subject {r['subject']}, the event's is {events[e]['subject']}")
        check(bodies.setdefault(e, r["body"]) == r["body"], f"request {r['seq']}: another body for {e}")
        first.setdefault(e, r)
        copies[e] = copies.get(e, 0) + 1
    lost = sorted(set(events) - set(first))
    check(not lost, f"events that never reached the receiver: {lost}")
    check(len(first) == n_events, "deduplicating by webhook-id does not give one request per event")

    # Order per subject: first arrivals in outbox order.
    by_subject = {}
    for e, v in sorted(events.items(), key=lambda kv: kv[1]["row"]):
        by_subject.setdefault(v["subject"], []).append(e)
    check(len(by_subject) == APPOINTMENTS, f"{len(by_subject)} subjects, expected {APPOINTMENTS}")
    for subject, ids in by_subject.items():
        seqs = [first[e]["seq"] for e in ids]
        check(seqs == sorted(seqs), f"{subject}: first arrivals {seqs} for events {ids} (outbox order)")
        check([events[e]["type"] for e in ids] == ["appointment.confirmed", "appointment.canceled"],
              f"{subject}: events {[events[e]['type'] for e in ids]}")

    # What the crash left: in flight -> sent again after it, and claimed again.
    for e in st["in_flight"]:
        again = [r["seq"] for r in recs if r["webhookId"] == e and r["seq"] > st["max_seq_at_kill"]]
        check(again, f"{e} was in flight at the kill and never arrived again")
        check(events[e]["attempts"] >= 2, f"{e}: attempts {events[e]['attempts']}, in flight at the kill")
    answered_again = [e for e in st["answered"] if copies[e] >= 2]

    # The REST face after the restart (the edge's channel to the new process reconnects).
    def rest_events():
        status, body = http("GET", STACK_URL + "/api/elevenlabs/webhook-events?pageSize=500", tok=admin)
        return body if status == 200 else None
    listed = wait_until("GET /api/elevenlabs/webhook-events", rest_events, 60, 0.5)
    check({x["eventId"] for x in listed.get("events", [])} == set(events),
          "GET /api/elevenlabs/webhook-events lists other events than the outbox")
    subscription = api("GET", f"/api/elevenlabs/webhook-subscriptions/{st['subscription']}", tok=admin)
    check(subscription.get("state") == "active" and subscription.get("pending", 0) == 0,
          f"subscription after the run: state {subscription.get('state')}, pending {subscription.get('pending')}")

    duplicates = len(recs) - n_events
    summary = {"events": n_events, "requests": len(recs), "distinct_ids": len(first),
               "duplicates": duplicates, "ids_with_duplicates": sum(1 for c in copies.values() if c > 1),
               "arrived_before_kill": st["arrived_at_kill"], "in_flight_at_kill": len(st["in_flight"]),
               "answered_not_recorded_at_kill": len(st["answered"]),
               "answered_sent_again": len(answered_again), "committed_not_sent_at_kill": len(st["unsent"]),
               "attempts_logged": sum(v["logged"] for v in events.values()),
               "attempts_claimed": sum(v["attempts"] for v in events.values()),
               "all_delivered_after_kill_s": round(all_delivered_after, 1),
               "restarted_after_kill_s": round(restarted_after, 1)}
    with open(os.path.join(ARTIFACTS, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print("OUTBOUND_CRASH " + " ".join(f"{k}={v}" for k, v in summary.items()), flush=True)
    log(f"PASS: {n_events} events, {len(recs)} requests ({duplicates} duplicates), each event once by "
        "webhook-id, all verified, in order per subject, all delivered")


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("crash", "verify"):
        print("usage: crash_test.py crash|verify", file=sys.stderr)
        sys.exit(2)
    crash() if sys.argv[1] == "crash" else verify()
