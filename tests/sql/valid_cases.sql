-- Statements that MUST SUCCEED. Same format as constraint_cases.sql, with "ok" for the SQLSTATE:
--   a line  "-- expect: ok <what it shows>"  then exactly one line holding one SQL statement.
-- Run after tests/sql/fixtures.sql. Each case passes whether the cases run each in its own
-- savepoint (rolled back) or cumulatively in file order. SELECT cases assert with 1/0: they fail
-- with 22012 (division_by_zero) when the property does not hold.

-- expect: ok same-state update (in_progress -> in_progress) with other columns
UPDATE elevenlabs_conversations SET status = 'in_progress', duration_secs = 10 WHERE id = 930001;
-- expect: ok same final state again (a duplicate completion webhook) may still fill in cost
UPDATE elevenlabs_conversations SET status = 'completed', cost = 0.2000 WHERE id = 930002;
-- expect: ok tool-only transcript turn with NULL message
INSERT INTO elevenlabs_transcriptions (conversation_id, turn_index, role, message, time_in_call_secs, tool_calls) VALUES ('conv_fixture_1', 1, 'agent', NULL, 4, '[{"tool_name": "confirm_appointment", "params_as_json": "{}"}]');
-- expect: ok a transcript role ElevenLabs may add (tool) is data
INSERT INTO elevenlabs_transcriptions (conversation_id, turn_index, role, message, time_in_call_secs) VALUES ('conv_fixture_1', 2, 'tool', 'ok', 5);
-- expect: ok an analysis verdict other than success/failure/unknown is data
UPDATE elevenlabs_conversations SET call_successful = 'maybe' WHERE id = 930002;
-- expect: ok forward queued -> dialing with dial_attempted_at
UPDATE elevenlabs_conversations SET status = 'dialing', dial_attempted_at = now() WHERE id = 930003;
-- expect: ok forward to initiated once ElevenLabs accepted (conversation_id and callSid recorded)
UPDATE elevenlabs_conversations SET status = 'initiated', conversation_id = 'conv_fixture_3', call_sid = 'CA0000000000000000000000000093000a', dial_attempted_at = COALESCE(dial_attempted_at, now()) WHERE id = 930003;
-- expect: ok forward in_progress -> completed with end time, duration and cost
UPDATE elevenlabs_conversations SET status = 'completed', ended_at = started_at + interval '100 seconds', duration_secs = 100, cost = 0.0815 WHERE id = 930001;
-- expect: ok a late event applied with call_status_can_transition is a no-op, not an error
UPDATE elevenlabs_conversations SET status = 'ringing' WHERE id = 930002 AND call_status_can_transition(status, 'ringing');
-- expect: ok a failed call without conversation_id (ElevenLabs never accepted it)
INSERT INTO elevenlabs_conversations (agent_id, phone_number, status, dial_attempted_at, termination_reason) VALUES ('agent_x', '+573001112233', 'failed', now(), 'outbound call rejected');
-- expect: ok a live call without appointment to a number that has a live call for an appointment
INSERT INTO elevenlabs_conversations (agent_id, phone_number, patient_id) VALUES ('agent_x', '+573001234567', 910001);
-- expect: ok queued call canceled before dialling (any non-final state may become final)
UPDATE elevenlabs_conversations SET status = 'canceled' WHERE id = 930003;
-- expect: ok appointment confirmation write-back
UPDATE appointments SET status = 'confirmed', confirmed_at = now() WHERE id = 920001;
-- expect: ok patient marked do-not-call (updated_at trigger runs)
UPDATE patients SET do_not_call = true WHERE id = 910001;
-- expect: ok duplicate webhook event is absorbed by ON CONFLICT DO NOTHING
INSERT INTO webhook_inbox (event_type, conversation_id, body, body_sha256) VALUES ('post_call_transcription', 'conv_fixture_2', '\x7b7d', '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a') ON CONFLICT (event_type, conversation_id) DO NOTHING;
-- expect: ok audio kept outside the database (storage_uri only, no bytes)
INSERT INTO elevenlabs_audio (conversation_id, size_bytes, sha256, storage_uri) VALUES ('conv_fixture_1', 0, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'file:///var/lib/outcall/audio/conv_fixture_1.mp3');
-- expect: ok opt-out of a number that belongs to no known patient
INSERT INTO call_opt_outs (phone_e164, reason, source) VALUES ('+573005550001', 'no me llamen más', 'call_outcome');
-- expect: ok error for a conversation we do not know (no foreign key on conversation_id)
INSERT INTO elevenlabs_call_errors (conversation_id, source, error_code, message) VALUES ('conv_unknown_9', 'webhook', 'unknown_conversation', 'event for an unknown conversation');
-- expect: ok recent-calls view masks the phone as +57******4567
SELECT 1 / (SELECT count(*) FROM elevenlabs_recent_calls WHERE conversation_id = 'conv_fixture_1' AND phone_number_masked = '+57******4567')::integer;
-- expect: ok mask keeps 1- and 3-digit country codes (+1, +593)
SELECT 1 / (mask_phone_e164('+12025550123') = '+1******0123' AND mask_phone_e164('+593991234567') = '+593*****4567')::integer;
-- expect: ok transition rules: same state allowed, final never changes, forward only
SELECT 1 / (call_status_can_transition('completed', 'completed') AND NOT call_status_can_transition('completed', 'failed') AND NOT call_status_can_transition('in_progress', 'initiated') AND call_status_can_transition('queued', 'canceled') AND call_status_can_transition('dialing', 'no_answer'))::integer;
-- expect: ok idempotency key claimed in_progress without outcome yet
INSERT INTO idempotency_keys (scope, principal, idem_key, request_sha256, state, expires_at) VALUES ('InitiateCall', 'fixture-user', 'fixture-key-2', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'in_progress', now() + interval '1 day');
-- expect: ok unmatched event resolved
UPDATE unmatched_call_events SET resolved_at = now() WHERE conversation_id = 'conv_unknown_1';
