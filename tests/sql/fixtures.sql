-- Fixture rows for tests/sql/constraint_cases.sql and tests/sql/valid_cases.sql.
-- Apply once to a freshly migrated database (inside the test's transaction), then run each case in
-- its own savepoint. Fixed ids in the 9x0001 range keep clear of the identity sequences (which
-- start at 1), so cases can name rows directly; elevenlabs_* ids are GENERATED ALWAYS, hence
-- OVERRIDING SYSTEM VALUE. No BEGIN/COMMIT here: the caller owns the transaction.

-- One patient (910001) and one appointment (920001).
INSERT INTO patients (id, external_ref, full_name, phone_e164)
VALUES (910001, 'FIXTURE-P1', 'Paciente de Prueba', '+573001234567');

INSERT INTO appointments (id, patient_id, scheduled_at, doctor_name, specialty, location)
VALUES (920001, 910001, '2030-01-15 10:00:00-05', 'Dra. Prueba', 'Medicina general', 'Sede Norte');

-- 930001: a call in progress (conv_fixture_1), live for phone +573001234567 and appointment 920001.
INSERT INTO elevenlabs_conversations
  (id, call_id, conversation_id, call_sid, agent_id, agent_phone_number_id, patient_id, appointment_id,
   phone_number, patient_name, status, custom_variables, metadata, max_duration_secs,
   dial_attempted_at, started_at)
OVERRIDING SYSTEM VALUE VALUES
  (930001, '00000000-0000-4000-8000-000000930001', 'conv_fixture_1', 'CA00000000000000000000000000930001',
   'agent_fixture', 'phnum_fixture', 910001, 920001, '+573001234567', 'Paciente de Prueba', 'in_progress',
   '{"appointment_date": "2030-01-15", "appointment_time": "10:00 AM"}', '{"campaign": "fixture"}', 600,
   now() - interval '3 minutes', now() - interval '2 minutes');

-- 930002: a completed call (conv_fixture_2) for the same patient and appointment.
INSERT INTO elevenlabs_conversations
  (id, call_id, conversation_id, agent_id, patient_id, appointment_id, phone_number, status,
   max_duration_secs, dial_attempted_at, started_at, ended_at, duration_secs, cost, termination_reason,
   call_successful)
OVERRIDING SYSTEM VALUE VALUES
  (930002, '00000000-0000-4000-8000-000000930002', 'conv_fixture_2', 'agent_fixture', 910001, 920001,
   '+573001234567', 'completed', 600, now() - interval '1 day', now() - interval '1 day',
   now() - interval '1 day' + interval '95 seconds', 95, 0.1234, 'Call ended by remote party', 'success');

-- 930003: a queued call (no conversation id yet, no appointment) to another number.
INSERT INTO elevenlabs_conversations
  (id, call_id, agent_id, phone_number, status)
OVERRIDING SYSTEM VALUE VALUES
  (930003, '00000000-0000-4000-8000-000000930003', 'agent_fixture', '+573009876543', 'queued');

-- Children of the calls, one row each, so that UNIQUE and PRIMARY KEY cases have something to hit.
INSERT INTO elevenlabs_transcriptions (conversation_id, turn_index, role, message, time_in_call_secs)
VALUES ('conv_fixture_1', 0, 'agent', 'Hola, le llamamos de la clínica para confirmar su cita.', 0);

INSERT INTO elevenlabs_analysis (conversation_id, call_successful, transcript_summary, call_summary_title)
VALUES ('conv_fixture_2', 'success', 'La paciente confirmó la cita.', 'Cita confirmada');

INSERT INTO elevenlabs_audio (conversation_id, size_bytes, sha256, audio)
VALUES ('conv_fixture_2', 3, '041149186b23a9502aea5a4e81bbc9620d2b4b76b4bad94e36c744abcf9d3771', '\x494433');

INSERT INTO elevenlabs_call_errors (call_row_id, conversation_id, source, error_code, http_status, message)
VALUES (930001, 'conv_fixture_1', 'provider', 'rate_limited', 429, 'fixture error');

INSERT INTO call_opt_outs (phone_e164, patient_id, reason, source)
VALUES ('+573005550000', 910001, 'fixture', 'patient_request');

INSERT INTO webhook_inbox (event_type, conversation_id, event_timestamp, body, body_sha256)
VALUES ('post_call_transcription', 'conv_fixture_2', 1893456000, '\x7b7d',
        '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');

INSERT INTO unmatched_call_events (event_type, conversation_id, payload)
VALUES ('post_call_audio', 'conv_unknown_1', '{"type": "post_call_audio"}');

INSERT INTO idempotency_keys (scope, principal, idem_key, request_sha256, call_row_id, state, response,
                              grpc_code, expires_at)
VALUES ('InitiateCall', 'fixture-user', 'fixture-key-1',
        'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 930001, 'completed',
        '{"conversationId": "conv_fixture_1"}', 0, now() + interval '1 day');
