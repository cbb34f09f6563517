"""The REST edge over real HTTP against the real services (tests/edge/run.sh starts them).

Every binding of the descriptor set reaches its service; the original README's examples work as
written; gRPC statuses become Envoy's HTTP statuses with the {"code","message","details"} body;
bad JSON, unknown fields, missing, forged, expired and foreign tokens, the body limit, the
Idempotency-Key header, query binding, streams, the webhook passed on byte for byte.
Tokens are minted here (HS256, the standard library's hmac): an implementation independent of the
services' own.
"""
import base64
import hashlib
import hmac
import http.client
import json
import os
import subprocess
import threading
import time
import unittest
import urllib.parse
import uuid

URL = urllib.parse.urlparse(os.environ["STACK_URL"])
SIM = os.environ["STACK_SIM"]
ISSUER = os.environ["JWT_ISSUER"]
AUDIENCE = os.environ["JWT_AUDIENCE"].split(",")[0]
SECRET = os.environ["JWT_HS256_SECRET"].encode()
WEBHOOK_SECRET = os.environ["ELEVENLABS_WEBHOOK_SECRET"].encode()
DATABASE_URL = os.environ["DATABASE_URL"]
ALL = ["calls:read", "calls:write", "campaigns:write", "policy:read", "consent:write", "privacy:admin",
       "sync:read", "sync:write", "webhooks:admin"]


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(perms=ALL, iss=ISSUER, aud=AUDIENCE, exp_in=300, secret=SECRET, sub="edge-test"):
    now = int(time.time())
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps({"iss": iss, "aud": aud, "sub": sub, "iat": now, "nbf": now - 5,
                           "exp": now + exp_in, "scope": " ".join(perms)}).encode())
    sig = b64(hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest())
    return f"{head}.{body}.{sig}"


def psql(sql):
    return subprocess.run(["psql", DATABASE_URL, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                          check=True, capture_output=True, text=True).stdout.strip()


class Client:
    """One keep-alive connection, as a browser or the Node backend would hold."""

    def __init__(self):
        self.conn = http.client.HTTPConnection(URL.hostname, URL.port, timeout=30)

    def request(self, method, path, body=None, headers=None, auth=True, raw=None):
        h = {"Content-Type": "application/json"} if (body is not None or raw is not None) else {}
        if auth is True:
            h["Authorization"] = "Bearer " + token()
        elif isinstance(auth, str):
            h["Authorization"] = auth
        h.update(headers or {})
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        self.conn.request(method, path, body=data, headers=h)
        r = self.conn.getresponse()
        payload = r.read()
        text = payload.decode("utf-8", "replace")
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = None
        return r.status, parsed, dict((k.lower(), v) for k, v in r.getheaders()), text


def seed_patient():
    psql("INSERT INTO patients (id, full_name, phone_e164) VALUES (123, 'Juan Pérez', '+573001234567') "
         "ON CONFLICT (id) DO NOTHING")
    psql("INSERT INTO appointments (id, patient_id, scheduled_at, doctor_name) "
         "VALUES (456, 123, now() + interval '2 days', 'Dr. García') ON CONFLICT (id) DO NOTHING")


def wait_for(predicate, timeout=60.0, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class SeedReadmeExamples(unittest.TestCase):
    """The original README's requests (../shared/seed-readme.es.md, "Endpoints de API"), as written."""

    @classmethod
    def setUpClass(cls):
        seed_patient()
        cls.c = Client()

    def test_1_agents(self):
        status, body, _, _ = self.c.request("GET", "/api/elevenlabs/agents")
        self.assertEqual(status, 200)
        self.assertTrue(body["success"])
        self.assertEqual(body["count"], len(body["data"]))
        self.assertGreater(body["count"], 0)
        self.assertIn("agent_id", body["data"][0])
        self.assertIn("name", body["data"][0])

    def test_2_initiate_call_then_4_conversation_5_end(self):
        status, body, _, text = self.c.request("POST", "/api/elevenlabs/call", {
            "phoneNumber": "+573001234567",
            "patientId": 123,
            "patientName": "Juan Pérez",
            "appointmentId": 456,
            "agentId": "agent_123",
            "customVariables": {"appointment_date": "2025-10-27", "appointment_time": "10:00 AM",
                                "doctor_name": "Dr. García"},
            "metadata": {"campaign": "appointment_confirmation", "priority": "high"},
        })
        self.assertEqual(status, 200, text)
        self.assertTrue(body["success"])
        self.assertEqual(body["message"], "Llamada iniciada exitosamente")
        data = body["data"]
        self.assertTrue(data["success"])
        self.assertTrue(data["conversationId"].startswith("conv_"))
        self.assertTrue(data["callId"])
        self.assertEqual(data["status"], "initiated")
        conv = data["conversationId"]

        status, body, _, text = self.c.request("GET", f"/api/elevenlabs/conversation/{conv}")
        self.assertEqual(status, 200, text)
        self.assertTrue(body["success"])
        self.assertEqual(body["data"]["conversationId"], conv)

        status, body, _, text = self.c.request("DELETE", f"/api/elevenlabs/conversation/{conv}")
        self.assertEqual(status, 200, text)
        self.assertTrue(body["success"])
        _, after, _, _ = self.c.request("GET", f"/api/elevenlabs/conversation/{conv}")
        self.assertIn(after["data"]["status"], ("ended_manually", "completed"))

    def test_3_call_patient(self):
        status, body, _, text = self.c.request("POST", "/api/elevenlabs/call-patient/123", {
            "appointmentId": 456,
            "customVariables": {"appointment_date": "2025-10-27", "appointment_time": "10:00 AM"},
        })
        self.assertEqual(status, 200, text)
        self.assertTrue(body["success"])
        self.assertEqual(body["data"]["status"], "initiated")

    def test_6_history(self):
        self.c.request("POST", "/api/elevenlabs/call-patient/123", {"appointmentId": 456})
        status, body, _, text = self.c.request("GET", "/api/elevenlabs/calls?page=1&limit=20&patientId=123&status=initiated")
        self.assertEqual(status, 200, text)
        self.assertTrue(body["success"])
        self.assertGreater(len(body["data"]), 0)
        for row in body["data"]:
            self.assertEqual(row["patientId"], 123)
            self.assertEqual(row["status"], "initiated")
        self.assertEqual(body["pagination"]["page"], 1)
        self.assertEqual(body["pagination"]["limit"], 20)

    def test_7_stats(self):
        status, body, _, text = self.c.request("GET", "/api/elevenlabs/stats?startDate=2025-10-01&endDate=2025-10-31")
        self.assertEqual(status, 200, text)
        self.assertTrue(body["success"])
        for k in ("total_calls", "completed_calls", "failed_calls", "avg_duration", "total_cost"):
            self.assertIn(k, body["data"])
        self.assertEqual(body["data"]["total_calls"], 0)  # nothing in October 2025
        status, today, _, _ = self.c.request("GET", "/api/elevenlabs/stats")
        self.assertEqual(status, 200)
        self.assertGreater(today["data"]["total_calls"], 0)


class EveryRoute(unittest.TestCase):
    """Each binding of the descriptor set, over HTTP, reaches its service (the answer carries the
    upstream's timing header and is the service's JSON, never the edge's own 404)."""

    def test_every_binding_reaches_its_service(self):
        routes = json.loads(subprocess.run([os.environ["OUTCALL_EDGE_BINARY"], "--print-routes",
                                            os.environ["OUTCALL_DESCRIPTOR_SET"]],
                                           check=True, capture_output=True, text=True).stdout)
        c = Client()
        seen = 0
        for b in routes["bindings"]:
            path = b["template"]
            for var in ("patient_id", "conversation_id", "campaign_id", "review_id", "rule_id", "request_id",
                        "external_ref", "subscription_id"):
                path = path.replace("{" + var + "}", "00000000-0000-0000-0000-000000000000"
                                    if var in ("campaign_id", "subscription_id") else "123"
                                    if var in ("patient_id", "review_id", "rule_id", "request_id")
                                    else "ref_none" if var == "external_ref" else "conv_none")
            self.assertNotIn("{", path, f"unhandled variable in {b['template']}")
            body = {} if b["verb"] in ("POST", "PATCH", "PUT") else None
            if b["streaming"]:
                # A stream answers its headers (or an error) at once; read the status only.
                conn = http.client.HTTPConnection(URL.hostname, URL.port, timeout=10)
                conn.request("GET", path, headers={"Authorization": "Bearer " + token()})
                r = conn.getresponse()
                self.assertIn(r.status, (200, 400, 404), f"{b['verb']} {b['template']}")
                if r.status != 200:
                    err = json.loads(r.read())
                    self.assertIn("code", err)
                    self.assertNotIn("no method for", err["message"])
                conn.close()
                seen += 1
                continue
            status, parsed, headers, text = c.request(b["verb"], path, body)
            where = f"{b['verb']} {b['template']} -> {status} {text[:200]}"
            self.assertIn("x-upstream-service-time", headers, where)
            self.assertIsNotNone(parsed, where)
            if status != 200:
                self.assertEqual(set(parsed), {"code", "message", "details"}, where)
                self.assertNotIn("no method for", parsed["message"], where)
            seen += 1
        self.assertEqual(seen, len(routes["bindings"]))
        self.assertGreaterEqual(seen, 37)


class StatusAndErrors(unittest.TestCase):
    def setUp(self):
        self.c = Client()

    def assertError(self, result, http_status, grpc_code, contains=None):
        status, body, _, text = result
        self.assertEqual(status, http_status, text)
        self.assertEqual(set(body), {"code", "message", "details"}, text)
        self.assertEqual(body["code"], grpc_code, text)
        self.assertEqual(body["details"], [])
        if contains:
            self.assertIn(contains, body["message"])

    def test_invalid_argument_is_400(self):
        self.assertError(self.c.request("POST", "/api/elevenlabs/call", {"phoneNumber": "12"}), 400, 3, "phoneNumber")

    def test_not_found_is_404(self):
        self.assertError(self.c.request("GET", "/api/elevenlabs/conversation/conv_does_not_exist"), 404, 5)

    def test_permission_denied_is_403(self):
        auth = "Bearer " + token(perms=["calls:read"])
        self.assertError(self.c.request("POST", "/api/elevenlabs/call", {"phoneNumber": "3001234567"}, auth=auth), 403, 7)

    def test_bad_json_is_400(self):
        self.assertError(self.c.request("POST", "/api/elevenlabs/call", raw=b'{"phoneNumber": '), 400, 3, "bad request body")
        self.assertError(self.c.request("POST", "/api/elevenlabs/call", raw=b'[1, 2]'), 400, 3)

    def test_unknown_field_is_refused_naming_it(self):
        self.assertError(self.c.request("POST", "/api/elevenlabs/call", {"phoneNumber": "3001234567", "phoneNumbr": "x"}),
                         400, 3, "phoneNumbr")

    def test_a_refused_value_is_never_echoed_unmasked(self):
        status, body, _, text = self.c.request("POST", "/api/elevenlabs/call", {"phoneNumber": 3001234567})
        self.assertEqual(status, 400, text)
        self.assertNotIn("3001234567", text)

    def test_wrong_type_is_400(self):
        self.assertError(self.c.request("POST", "/api/elevenlabs/call", {"phoneNumber": "3001234567", "patientId": "abc"}),
                         400, 3, "patient")
        self.assertError(self.c.request("GET", "/api/elevenlabs/calls?page=abc"), 400, 3)

    def test_path_field_also_in_body_is_refused(self):
        seed_patient()
        self.assertError(self.c.request("POST", "/api/elevenlabs/call-patient/123", {"patientId": 124}), 400, 3, "patientId")

    def test_unknown_method_and_path(self):
        self.assertError(self.c.request("PUT", "/api/elevenlabs/call", {}), 404, 5)
        self.assertError(self.c.request("GET", "/api/elevenlabs/calls/extra/segments"), 404, 5)
        status, body, _, _ = self.c.request("GET", "/api/elevenlabs/nowhere")
        self.assertEqual((status, body), (404, {"success": False, "message": "not found"}))
        status, body, _, _ = self.c.request("GET", "/api/other", auth=False)
        self.assertEqual((status, body), (404, {"success": False, "message": "not found"}))

    def test_unknown_query_parameters_are_ignored_and_plus_is_space(self):
        status, body, _, text = self.c.request("GET", "/api/elevenlabs/calls?limit=1&utm_source=x&status=initiated")
        self.assertEqual(status, 200, text)
        self.assertEqual(body["pagination"]["limit"], 1)
        # '+' and %20 decode to spaces: the service names the decoded (unknown) state.
        status, body, _, text = self.c.request("GET", "/api/elevenlabs/calls?status=no+such%20state")
        self.assertEqual(status, 400, text)
        self.assertIn("no such state", body["message"])

    def test_primitives_always_printed(self):
        status, body, _, _ = self.c.request("GET", "/api/elevenlabs/stats?startDate=2001-01-01&endDate=2001-01-02")
        self.assertEqual(status, 200)
        self.assertEqual(body["data"]["total_calls"], 0)
        self.assertEqual(body["data"]["total_cost"], 0)

    def test_body_limit(self):
        big = b'{"phoneNumber": "' + b"1" * (4 * 1024 * 1024) + b'"}'
        self.assertError(self.c.request("POST", "/api/elevenlabs/call", raw=big), 413, 8, "larger than")
        # Just under the limit (4 MiB) is read and judged by the service (not by the edge's limit).
        ok = Client().request("POST", "/api/elevenlabs/call", raw=b'{"patientName": "' + b"a" * (4 * 1024 * 1000) + b'"}')
        self.assertNotEqual(ok[0], 413)


class Tokens(unittest.TestCase):
    def setUp(self):
        self.c = Client()

    def check(self, auth, contains):
        status, body, headers, text = self.c.request("GET", "/api/elevenlabs/stats", auth=auth)
        self.assertEqual(status, 401, text)
        self.assertEqual(body["code"], 16)
        self.assertIn(contains, body["message"])
        self.assertTrue(headers["www-authenticate"].startswith("Bearer realm="))
        self.assertNotIn("x-upstream-service-time", headers)  # refused at the edge
        return headers

    def test_missing(self):
        self.check(False, "Jwt is missing")
        self.check("Basic dXNlcjpwYXNz", "Jwt is missing")

    def test_forged_expired_foreign(self):
        h = self.check("Bearer " + token(secret=b"x" * 32), "Jwt verification fails")
        self.assertIn('error="invalid_token"', h["www-authenticate"])
        self.check("Bearer " + token(exp_in=-120), "Jwt verification fails")
        self.check("Bearer " + token(aud="someone-else"), "Jwt verification fails")
        self.check("Bearer " + token(iss="https://evil.example"), "Jwt verification fails")
        self.check("Bearer not.a.jwt", "Jwt verification fails")

    def test_token_message_never_echoes_the_token(self):
        bad = token(secret=b"y" * 32)
        _, _, _, text = self.c.request("GET", "/api/elevenlabs/stats", auth="Bearer " + bad)
        self.assertNotIn(bad.split(".")[2], text)

    def test_webhook_needs_no_jwt(self):
        status, body, _, _ = self.c.request("POST", "/api/webhooks/elevenlabs", {"type": "x"}, auth=False)
        self.assertEqual(status, 401)
        self.assertEqual(body["error"], "invalid_signature")  # webhook-ingest's own answer


class Behaviour(unittest.TestCase):
    def setUp(self):
        self.c = Client()

    def test_idempotency_key_reaches_the_gateway(self):
        key = str(uuid.uuid4())
        req = {"phoneNumber": "+573005551234", "patientName": "Ana"}
        s1, b1, _, t1 = self.c.request("POST", "/api/elevenlabs/call", req, headers={"Idempotency-Key": key})
        s2, b2, _, t2 = self.c.request("POST", "/api/elevenlabs/call", req, headers={"Idempotency-Key": key})
        self.assertEqual((s1, s2), (200, 200), t1 + t2)
        self.assertEqual(b1["data"]["conversationId"], b2["data"]["conversationId"])
        rows = psql(f"SELECT count(*) FROM elevenlabs_conversations WHERE phone_number = '+573005551234'")
        self.assertEqual(rows, "1")

    def test_stream_of_call_events(self):
        lines = []
        ready = threading.Event()

        def watch():
            conn = http.client.HTTPConnection(URL.hostname, URL.port, timeout=60)
            conn.request("GET", "/api/elevenlabs/call-events", headers={"Authorization": "Bearer " + token()})
            r = conn.getresponse()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.getheader("Transfer-Encoding"), "chunked")
            ready.set()
            while True:
                line = r.readline()
                if not line:
                    return
                lines.append(json.loads(line))
                if lines[-1].get("status") == "completed" and lines[-1]["conversationId"] == conv[0]:
                    conn.close()
                    return

        conv = [None]
        t = threading.Thread(target=watch, daemon=True)
        t.start()
        self.assertTrue(ready.wait(10), "the stream's headers did not come")
        _, body, _, text = self.c.request("POST", "/api/elevenlabs/call", {"phoneNumber": "+573005559876"})
        conv[0] = body["data"]["conversationId"]
        t.join(90)
        mine = [l for l in lines if l["conversationId"] == conv[0]]
        self.assertTrue(mine, f"no update for {conv[0]}: {lines}")
        self.assertEqual(mine[-1]["status"], "completed")
        for l in mine:
            self.assertEqual(set(l), {"conversationId", "callId", "status", "previousStatus", "cause", "at"})

        # Its recording (the simulator sends post_call_audio): raw bytes through google.api.HttpBody.
        def has_audio():
            _, b, _, _ = self.c.request("GET", f"/api/elevenlabs/conversation/{conv[0]}")
            return b["data"]["hasAudio"]
        wait_for(has_audio, 60, "the recording to be stored")
        conn = http.client.HTTPConnection(URL.hostname, URL.port, timeout=30)
        conn.request("GET", f"/api/elevenlabs/conversation/{conv[0]}/audio", headers={"Authorization": "Bearer " + token()})
        r = conn.getresponse()
        audio = r.read()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.getheader("Content-Type"), "audio/mpeg")
        stored = psql(f"SELECT size_bytes FROM elevenlabs_audio WHERE conversation_id = '{conv[0]}'")
        self.assertEqual(len(audio), int(stored))
        self.assertEqual(hashlib.sha256(audio).hexdigest(),
                         psql(f"SELECT sha256 FROM elevenlabs_audio WHERE conversation_id = '{conv[0]}'"))
        # None for a call without one.
        status, body, _, _ = self.c.request("GET", "/api/elevenlabs/conversation/conv_does_not_exist/audio")
        self.assertEqual((status, body["code"]), (404, 5))

    def test_stream_error_before_any_message_is_an_http_error(self):
        conn = http.client.HTTPConnection(URL.hostname, URL.port, timeout=10)
        conn.request("GET", "/api/elevenlabs/campaigns/not-a-uuid/watch", headers={"Authorization": "Bearer " + token()})
        r = conn.getresponse()
        self.assertEqual(r.status, 400)
        self.assertEqual(json.loads(r.read())["code"], 3)

    def test_webhook_passes_byte_for_byte(self):
        body = json.dumps({"type": "post_call_transcription", "event_timestamp": int(time.time()),
                           "data": {"agent_id": "agent_sim_confirmaciones", "conversation_id": "conv_edge_" + uuid.uuid4().hex[:8],
                                    "status": "done", "transcript": [], "metadata": {}, "analysis": {}}},
                          separators=(",", ":")).encode()
        ts = str(int(time.time()))
        sig = hmac.new(WEBHOOK_SECRET, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        status, parsed, _, text = self.c.request("POST", "/api/webhooks/elevenlabs", raw=body, auth=False,
                                                 headers={"ElevenLabs-Signature": f"t={ts},v0={sig}"})
        self.assertEqual(status, 200, text)
        self.assertEqual(parsed["status"], "stored")

    def test_healthz(self):
        status, body, _, _ = self.c.request("GET", "/healthz", auth=False)
        self.assertEqual((status, body), (200, {"status": "ok"}))

    def test_keep_alive_serves_many_requests_on_one_connection(self):
        for _ in range(20):
            status, _, _, _ = self.c.request("GET", "/api/elevenlabs/agents")
            self.assertEqual(status, 200)


if __name__ == "__main__":
    unittest.main()
