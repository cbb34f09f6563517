-- Statements that MUST FAIL, each with the SQLSTATE it must fail with.
--
-- Format (parsed by the C++ test):
--   a line  "-- expect: <SQLSTATE> <target>: <what it checks>"
--   then exactly one line holding one complete SQL statement (no trailing comment).
-- Every other line is blank or a comment that does not start with the expect marker.
-- <target> names what must reject the statement: a constraint or unique index name (compare with
-- the error's PG_DIAG_CONSTRAINT_NAME), or table.column for NOT NULL and other column errors
-- (PG_DIAG_TABLE_NAME "." PG_DIAG_COLUMN_NAME, when the server reports them).
--
-- Run after tests/sql/fixtures.sql, each statement in its own savepoint (ROLLBACK TO SAVEPOINT
-- after each), so cases do not depend on each other. Fixture rows: patient 910001 (FIXTURE-P1),
-- appointment 920001, calls 930001 in_progress (conv_fixture_1), 930002 completed (conv_fixture_2),
-- 930003 queued (no conversation id).

-- ============================================================================================
-- patients

-- expect: 23505 patients_pkey: duplicate patient id
INSERT INTO patients (id, full_name) VALUES (910001, 'Otro Paciente');
-- expect: 23502 patients.id: id NOT NULL
INSERT INTO patients (id, full_name) VALUES (NULL, 'Otro Paciente');
-- expect: 23505 patients_external_ref_key: external_ref is unique
INSERT INTO patients (external_ref, full_name) VALUES ('FIXTURE-P1', 'Otro Paciente');
-- expect: 23514 patients_external_ref_check: external_ref not blank
INSERT INTO patients (external_ref, full_name) VALUES ('  ', 'Otro Paciente');
-- expect: 23514 patients_full_name_present_check: a name unless the data was deleted on request
INSERT INTO patients (full_name) VALUES (NULL);
-- expect: 23514 patients_full_name_check: full_name not blank
INSERT INTO patients (full_name) VALUES ('   ');
-- expect: 23514 patients_phone_e164_check: phone without +country code
INSERT INTO patients (full_name, phone_e164) VALUES ('Otro Paciente', '3001234567');
-- expect: 23514 patients_phone_e164_check: phone with spaces
UPDATE patients SET phone_e164 = '+57 300 123 4567' WHERE id = 910001;
-- expect: 23514 patients_phone_e164_check: phone too short
INSERT INTO patients (full_name, phone_e164) VALUES ('Otro Paciente', '+573001');
-- expect: 23514 patients_phone_e164_check: phone longer than 15 digits
INSERT INTO patients (full_name, phone_e164) VALUES ('Otro Paciente', '+5730012345678901');
-- expect: 23514 patients_phone_e164_check: country code cannot start with 0
INSERT INTO patients (full_name, phone_e164) VALUES ('Otro Paciente', '+073001234567');
-- expect: 23502 patients.do_not_call: do_not_call NOT NULL
UPDATE patients SET do_not_call = NULL WHERE id = 910001;
-- expect: 23502 patients.created_at: created_at NOT NULL
INSERT INTO patients (full_name, created_at) VALUES ('Otro Paciente', NULL);
-- expect: 23502 patients.updated_at: updated_at NOT NULL
INSERT INTO patients (full_name, updated_at) VALUES ('Otro Paciente', NULL);

-- ============================================================================================
-- appointments

-- expect: 23505 appointments_pkey: duplicate appointment id
INSERT INTO appointments (id, patient_id, scheduled_at) VALUES (920001, 910001, now());
-- expect: 23502 appointments.id: id NOT NULL
INSERT INTO appointments (id, patient_id, scheduled_at) VALUES (NULL, 910001, now());
-- expect: 23502 appointments.patient_id: patient_id NOT NULL
INSERT INTO appointments (patient_id, scheduled_at) VALUES (NULL, now());
-- expect: 23503 appointments_patient_id_fkey: unknown patient
INSERT INTO appointments (patient_id, scheduled_at) VALUES (999999999, now());
-- expect: 23502 appointments.scheduled_at: scheduled_at NOT NULL
INSERT INTO appointments (patient_id, scheduled_at) VALUES (910001, NULL);
-- expect: 23514 appointments_status_check: appointment status outside the known set
UPDATE appointments SET status = 'confirmada' WHERE id = 920001;
-- expect: 23502 appointments.status: appointment status NOT NULL
UPDATE appointments SET status = NULL WHERE id = 920001;
-- expect: 23502 appointments.created_at: created_at NOT NULL
INSERT INTO appointments (patient_id, scheduled_at, created_at) VALUES (910001, now(), NULL);
-- expect: 23502 appointments.updated_at: updated_at NOT NULL
INSERT INTO appointments (patient_id, scheduled_at, updated_at) VALUES (910001, now(), NULL);

-- ============================================================================================
-- call_opt_outs

-- expect: 23505 call_opt_outs_pkey: a number opts out once
INSERT INTO call_opt_outs (phone_e164, source) VALUES ('+573005550000', 'admin');
-- expect: 23502 call_opt_outs.phone_e164: phone NOT NULL
INSERT INTO call_opt_outs (phone_e164, source) VALUES (NULL, 'admin');
-- expect: 23514 call_opt_outs_phone_e164_check: opt-out phone not E.164
INSERT INTO call_opt_outs (phone_e164, source) VALUES ('573005550001', 'admin');
-- expect: 23503 call_opt_outs_patient_id_fkey: unknown patient
INSERT INTO call_opt_outs (phone_e164, patient_id, source) VALUES ('+573005550001', 999999999, 'admin');
-- expect: 23502 call_opt_outs.source: source NOT NULL
INSERT INTO call_opt_outs (phone_e164, source) VALUES ('+573005550001', NULL);
-- expect: 23514 call_opt_outs_source_check: source outside the known set
INSERT INTO call_opt_outs (phone_e164, source) VALUES ('+573005550001', 'sms');
-- expect: 23502 call_opt_outs.created_at: created_at NOT NULL
INSERT INTO call_opt_outs (phone_e164, source, created_at) VALUES ('+573005550001', 'admin', NULL);

-- ============================================================================================
-- elevenlabs_conversations: identity, keys, NOT NULL

-- expect: 428C9 elevenlabs_conversations.id: id is GENERATED ALWAYS (no explicit value without OVERRIDING SYSTEM VALUE)
INSERT INTO elevenlabs_conversations (id, agent_id, phone_number) VALUES (1, 'agent_x', '+573001112233');
-- expect: 23505 elevenlabs_conversations_pkey: duplicate call row id
INSERT INTO elevenlabs_conversations (id, agent_id, phone_number) OVERRIDING SYSTEM VALUE VALUES (930001, 'agent_x', '+573001112233');
-- expect: 23502 elevenlabs_conversations.id: id NOT NULL
INSERT INTO elevenlabs_conversations (id, agent_id, phone_number) OVERRIDING SYSTEM VALUE VALUES (NULL, 'agent_x', '+573001112233');
-- expect: 23505 elevenlabs_conversations_call_id_key: call_id is unique
INSERT INTO elevenlabs_conversations (call_id, agent_id, phone_number) VALUES ('00000000-0000-4000-8000-000000930001', 'agent_x', '+573001112233');
-- expect: 23502 elevenlabs_conversations.call_id: call_id NOT NULL
INSERT INTO elevenlabs_conversations (call_id, agent_id, phone_number) VALUES (NULL, 'agent_x', '+573001112233');
-- expect: 23505 elevenlabs_conversations_conversation_id_key: conversation_id is unique
UPDATE elevenlabs_conversations SET conversation_id = 'conv_fixture_1' WHERE id = 930003;
-- expect: 23514 elevenlabs_conversations_conversation_id_check: conversation_id not blank
UPDATE elevenlabs_conversations SET conversation_id = '' WHERE id = 930003;
-- expect: 23503 elevenlabs_transcriptions_conversation_id_fkey: conversation_id cannot change while transcript turns reference it
UPDATE elevenlabs_conversations SET conversation_id = 'conv_renamed' WHERE id = 930001;
-- expect: 23502 elevenlabs_conversations.agent_id: agent_id NOT NULL
INSERT INTO elevenlabs_conversations (agent_id, phone_number) VALUES (NULL, '+573001112233');
-- expect: 23514 elevenlabs_conversations_agent_id_check: agent_id not blank
INSERT INTO elevenlabs_conversations (agent_id, phone_number) VALUES (' ', '+573001112233');
-- expect: 23503 elevenlabs_conversations_patient_id_fkey: unknown patient
INSERT INTO elevenlabs_conversations (agent_id, phone_number, patient_id) VALUES ('agent_x', '+573001112233', 999999999);
-- expect: 23503 elevenlabs_conversations_appointment_id_fkey: unknown appointment
INSERT INTO elevenlabs_conversations (agent_id, phone_number, appointment_id) VALUES ('agent_x', '+573001112233', 999999999);
-- expect: 23502 elevenlabs_conversations.phone_number: phone_number NOT NULL
INSERT INTO elevenlabs_conversations (agent_id, phone_number) VALUES ('agent_x', NULL);
-- expect: 23514 elevenlabs_conversations_phone_number_check: phone_number not normalised to E.164
INSERT INTO elevenlabs_conversations (agent_id, phone_number) VALUES ('agent_x', '3001112233');
-- expect: 23514 elevenlabs_conversations_phone_number_check: phone_number with letters
INSERT INTO elevenlabs_conversations (agent_id, phone_number) VALUES ('agent_x', '+57300ABC2233');
-- expect: 23502 elevenlabs_conversations.status: status NOT NULL
INSERT INTO elevenlabs_conversations (agent_id, phone_number, status) VALUES ('agent_x', '+573001112233', NULL);
-- expect: 23502 elevenlabs_conversations.custom_variables: custom_variables NOT NULL
INSERT INTO elevenlabs_conversations (agent_id, phone_number, custom_variables) VALUES ('agent_x', '+573001112233', NULL);
-- expect: 23502 elevenlabs_conversations.metadata: metadata NOT NULL
INSERT INTO elevenlabs_conversations (agent_id, phone_number, metadata) VALUES ('agent_x', '+573001112233', NULL);
-- expect: 23502 elevenlabs_conversations.created_at: created_at NOT NULL
INSERT INTO elevenlabs_conversations (agent_id, phone_number, created_at) VALUES ('agent_x', '+573001112233', NULL);
-- expect: 23502 elevenlabs_conversations.updated_at: updated_at NOT NULL
INSERT INTO elevenlabs_conversations (agent_id, phone_number, updated_at) VALUES ('agent_x', '+573001112233', NULL);

-- ============================================================================================
-- elevenlabs_conversations: CHECKs

-- expect: 23514 elevenlabs_conversations_status_check: status outside the known set (insert)
INSERT INTO elevenlabs_conversations (agent_id, phone_number, status) VALUES ('agent_x', '+573001112233', 'done');
-- expect: 23514 elevenlabs_conversations_status_check: status outside the known set (update)
UPDATE elevenlabs_conversations SET status = 'in-progress' WHERE id = 930001;
-- expect: 23514 elevenlabs_conversations_custom_variables_check: custom_variables must be a JSON object
INSERT INTO elevenlabs_conversations (agent_id, phone_number, custom_variables) VALUES ('agent_x', '+573001112233', '["a", "b"]');
-- expect: 23514 elevenlabs_conversations_metadata_check: metadata must be a JSON object
INSERT INTO elevenlabs_conversations (agent_id, phone_number, metadata) VALUES ('agent_x', '+573001112233', '"campaign"');
-- expect: 23514 elevenlabs_conversations_max_duration_secs_check: max_duration_secs > 0
INSERT INTO elevenlabs_conversations (agent_id, phone_number, max_duration_secs) VALUES ('agent_x', '+573001112233', 0);
-- expect: 23514 elevenlabs_conversations_duration_secs_check: duration_secs >= 0
UPDATE elevenlabs_conversations SET duration_secs = -1 WHERE id = 930002;
-- expect: 23514 elevenlabs_conversations_cost_check: cost >= 0
UPDATE elevenlabs_conversations SET cost = -0.0001 WHERE id = 930002;
-- expect: 22003 elevenlabs_conversations.cost: cost fits numeric(14,4)
UPDATE elevenlabs_conversations SET cost = 12345678901.0 WHERE id = 930002;
-- expect: 23514 elevenlabs_conversations_call_successful_check: call_successful empty (any other verdict is data)
UPDATE elevenlabs_conversations SET call_successful = ' ' WHERE id = 930002;
-- expect: 23514 elevenlabs_conversations_ended_after_started_check: ended_at before started_at
UPDATE elevenlabs_conversations SET ended_at = started_at - interval '1 second' WHERE id = 930002;
-- expect: 23514 elevenlabs_conversations_conversation_id_required_check: in_progress needs a conversation_id (insert)
INSERT INTO elevenlabs_conversations (agent_id, phone_number, status) VALUES ('agent_x', '+573001112233', 'in_progress');
-- expect: 23514 elevenlabs_conversations_conversation_id_required_check: ringing needs a conversation_id (forward update)
UPDATE elevenlabs_conversations SET status = 'ringing' WHERE id = 930003;
-- expect: 23514 elevenlabs_conversations_conversation_id_required_check: completed needs a conversation_id
INSERT INTO elevenlabs_conversations (agent_id, phone_number, status) VALUES ('agent_x', '+573001112233', 'completed');
-- expect: 23514 elevenlabs_conversations_dialing_attempt_check: dialing needs dial_attempted_at
UPDATE elevenlabs_conversations SET status = 'dialing' WHERE id = 930003;

-- ============================================================================================
-- elevenlabs_conversations: one live call per phone and appointment

-- expect: 23505 elevenlabs_conversations_one_live_call_key: second live call for the same phone and appointment
INSERT INTO elevenlabs_conversations (agent_id, phone_number, appointment_id, status) VALUES ('agent_x', '+573001234567', 920001, 'queued');
-- expect: 23505 elevenlabs_conversations_one_live_call_key: second live call for the same phone without appointment
INSERT INTO elevenlabs_conversations (agent_id, phone_number) VALUES ('agent_x', '+573009876543');

-- ============================================================================================
-- elevenlabs_conversations: states only move forward (trigger elevenlabs_conversations_status_forward)

-- expect: 23514 elevenlabs_conversations_status_forward: final state completed -> in_progress
UPDATE elevenlabs_conversations SET status = 'in_progress' WHERE id = 930002;
-- expect: 23514 elevenlabs_conversations_status_forward: final state completed -> another final state (failed)
UPDATE elevenlabs_conversations SET status = 'failed' WHERE id = 930002;
-- expect: 23514 elevenlabs_conversations_status_forward: final state completed -> ended_manually
UPDATE elevenlabs_conversations SET status = 'ended_manually' WHERE id = 930002;
-- expect: 23514 elevenlabs_conversations_status_forward: backwards in_progress -> initiated
UPDATE elevenlabs_conversations SET status = 'initiated' WHERE id = 930001;
-- expect: 23514 elevenlabs_conversations_status_forward: backwards in_progress -> ringing
UPDATE elevenlabs_conversations SET status = 'ringing' WHERE conversation_id = 'conv_fixture_1';
-- expect: 23514 elevenlabs_conversations_status_forward: backwards in_progress -> queued
UPDATE elevenlabs_conversations SET status = 'queued' WHERE id = 930001;
-- expect: 23514 elevenlabs_conversations_status_forward: a late upsert cannot regress a completed call
INSERT INTO elevenlabs_conversations (id, agent_id, phone_number) OVERRIDING SYSTEM VALUE VALUES (930002, 'agent_x', '+573001234567') ON CONFLICT (id) DO UPDATE SET status = 'ringing';

-- ============================================================================================
-- elevenlabs_transcriptions

-- expect: 23502 elevenlabs_transcriptions.id: id NOT NULL
INSERT INTO elevenlabs_transcriptions (id, conversation_id, turn_index, role) OVERRIDING SYSTEM VALUE VALUES (NULL, 'conv_fixture_1', 5, 'user');
-- expect: 23505 elevenlabs_transcriptions_pkey: duplicate transcription row id
INSERT INTO elevenlabs_transcriptions (id, conversation_id, turn_index, role) OVERRIDING SYSTEM VALUE SELECT id, 'conv_fixture_1', 5, 'user' FROM elevenlabs_transcriptions WHERE conversation_id = 'conv_fixture_1' AND turn_index = 0;
-- expect: 23502 elevenlabs_transcriptions.conversation_id: conversation_id NOT NULL
INSERT INTO elevenlabs_transcriptions (conversation_id, turn_index, role) VALUES (NULL, 1, 'user');
-- expect: 23503 elevenlabs_transcriptions_conversation_id_fkey: unknown conversation
INSERT INTO elevenlabs_transcriptions (conversation_id, turn_index, role) VALUES ('conv_nobody', 0, 'user');
-- expect: 23505 elevenlabs_transcriptions_conversation_id_turn_index_key: one row per turn
INSERT INTO elevenlabs_transcriptions (conversation_id, turn_index, role, message) VALUES ('conv_fixture_1', 0, 'agent', 'duplicado');
-- expect: 23502 elevenlabs_transcriptions.turn_index: turn_index NOT NULL
INSERT INTO elevenlabs_transcriptions (conversation_id, turn_index, role) VALUES ('conv_fixture_1', NULL, 'user');
-- expect: 23514 elevenlabs_transcriptions_turn_index_check: turn_index >= 0
INSERT INTO elevenlabs_transcriptions (conversation_id, turn_index, role) VALUES ('conv_fixture_1', -1, 'user');
-- expect: 23502 elevenlabs_transcriptions.role: role NOT NULL
INSERT INTO elevenlabs_transcriptions (conversation_id, turn_index, role) VALUES ('conv_fixture_1', 1, NULL);
-- expect: 23514 elevenlabs_transcriptions_role_check: role not empty (any role is data)
INSERT INTO elevenlabs_transcriptions (conversation_id, turn_index, role) VALUES ('conv_fixture_1', 1, '');
-- expect: 23514 elevenlabs_transcriptions_role_check: role at most 64 characters
INSERT INTO elevenlabs_transcriptions (conversation_id, turn_index, role) VALUES ('conv_fixture_1', 1, repeat('r', 65));
-- expect: 23514 elevenlabs_transcriptions_time_in_call_secs_check: time_in_call_secs >= 0
INSERT INTO elevenlabs_transcriptions (conversation_id, turn_index, role, time_in_call_secs) VALUES ('conv_fixture_1', 1, 'user', -5);
-- expect: 23502 elevenlabs_transcriptions.interrupted: interrupted NOT NULL
INSERT INTO elevenlabs_transcriptions (conversation_id, turn_index, role, interrupted) VALUES ('conv_fixture_1', 1, 'user', NULL);
-- expect: 23502 elevenlabs_transcriptions.created_at: created_at NOT NULL
INSERT INTO elevenlabs_transcriptions (conversation_id, turn_index, role, created_at) VALUES ('conv_fixture_1', 1, 'user', NULL);

-- ============================================================================================
-- elevenlabs_analysis

-- expect: 23505 elevenlabs_analysis_pkey: one analysis per conversation
INSERT INTO elevenlabs_analysis (conversation_id, call_successful) VALUES ('conv_fixture_2', 'failure');
-- expect: 23502 elevenlabs_analysis.conversation_id: conversation_id NOT NULL
INSERT INTO elevenlabs_analysis (conversation_id) VALUES (NULL);
-- expect: 23503 elevenlabs_analysis_conversation_id_fkey: unknown conversation
INSERT INTO elevenlabs_analysis (conversation_id) VALUES ('conv_nobody');
-- expect: 23514 elevenlabs_analysis_call_successful_check: call_successful empty
INSERT INTO elevenlabs_analysis (conversation_id, call_successful) VALUES ('conv_fixture_1', '');
-- expect: 23502 elevenlabs_analysis.data_collection_results: data_collection_results NOT NULL
INSERT INTO elevenlabs_analysis (conversation_id, data_collection_results) VALUES ('conv_fixture_1', NULL);
-- expect: 23514 elevenlabs_analysis_data_collection_results_check: data_collection_results must be a JSON object
INSERT INTO elevenlabs_analysis (conversation_id, data_collection_results) VALUES ('conv_fixture_1', '[]');
-- expect: 23502 elevenlabs_analysis.evaluation_criteria_results: evaluation_criteria_results NOT NULL
INSERT INTO elevenlabs_analysis (conversation_id, evaluation_criteria_results) VALUES ('conv_fixture_1', NULL);
-- expect: 23514 elevenlabs_analysis_evaluation_criteria_results_check: evaluation_criteria_results must be a JSON object
INSERT INTO elevenlabs_analysis (conversation_id, evaluation_criteria_results) VALUES ('conv_fixture_1', 'null');
-- expect: 23502 elevenlabs_analysis.created_at: created_at NOT NULL
INSERT INTO elevenlabs_analysis (conversation_id, created_at) VALUES ('conv_fixture_1', NULL);
-- expect: 23502 elevenlabs_analysis.updated_at: updated_at NOT NULL
INSERT INTO elevenlabs_analysis (conversation_id, updated_at) VALUES ('conv_fixture_1', NULL);

-- ============================================================================================
-- elevenlabs_audio

-- expect: 23505 elevenlabs_audio_pkey: one recording per conversation
INSERT INTO elevenlabs_audio (conversation_id, size_bytes, sha256, storage_uri) VALUES ('conv_fixture_2', 0, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'file:///x.mp3');
-- expect: 23502 elevenlabs_audio.conversation_id: conversation_id NOT NULL
INSERT INTO elevenlabs_audio (conversation_id, size_bytes, sha256, storage_uri) VALUES (NULL, 0, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'file:///x.mp3');
-- expect: 23503 elevenlabs_audio_conversation_id_fkey: unknown conversation
INSERT INTO elevenlabs_audio (conversation_id, size_bytes, sha256, storage_uri) VALUES ('conv_nobody', 0, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'file:///x.mp3');
-- expect: 23502 elevenlabs_audio.content_type: content_type NOT NULL
INSERT INTO elevenlabs_audio (conversation_id, content_type, size_bytes, sha256, storage_uri) VALUES ('conv_fixture_1', NULL, 0, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'file:///x.mp3');
-- expect: 23502 elevenlabs_audio.size_bytes: size_bytes NOT NULL
INSERT INTO elevenlabs_audio (conversation_id, size_bytes, sha256, storage_uri) VALUES ('conv_fixture_1', NULL, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'file:///x.mp3');
-- expect: 23514 elevenlabs_audio_size_bytes_check: size_bytes >= 0
INSERT INTO elevenlabs_audio (conversation_id, size_bytes, sha256, storage_uri) VALUES ('conv_fixture_1', -1, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'file:///x.mp3');
-- expect: 23502 elevenlabs_audio.sha256: sha256 NOT NULL
INSERT INTO elevenlabs_audio (conversation_id, size_bytes, sha256, storage_uri) VALUES ('conv_fixture_1', 0, NULL, 'file:///x.mp3');
-- expect: 23514 elevenlabs_audio_sha256_check: sha256 is 64 lowercase hex digits (uppercase rejected)
INSERT INTO elevenlabs_audio (conversation_id, size_bytes, sha256, storage_uri) VALUES ('conv_fixture_1', 0, 'E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855', 'file:///x.mp3');
-- expect: 23514 elevenlabs_audio_sha256_check: sha256 too short
INSERT INTO elevenlabs_audio (conversation_id, size_bytes, sha256, storage_uri) VALUES ('conv_fixture_1', 0, 'e3b0c442', 'file:///x.mp3');
-- expect: 23514 elevenlabs_audio_location_check: neither audio bytes nor storage_uri
INSERT INTO elevenlabs_audio (conversation_id, size_bytes, sha256) VALUES ('conv_fixture_1', 0, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
-- expect: 23514 elevenlabs_audio_location_check: removing the only copy of the audio
UPDATE elevenlabs_audio SET audio = NULL WHERE conversation_id = 'conv_fixture_2';
-- expect: 23502 elevenlabs_audio.created_at: created_at NOT NULL
INSERT INTO elevenlabs_audio (conversation_id, size_bytes, sha256, storage_uri, created_at) VALUES ('conv_fixture_1', 0, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'file:///x.mp3', NULL);

-- ============================================================================================
-- elevenlabs_call_errors

-- expect: 23502 elevenlabs_call_errors.id: id NOT NULL
INSERT INTO elevenlabs_call_errors (id, source, message) OVERRIDING SYSTEM VALUE VALUES (NULL, 'internal', 'x');
-- expect: 23505 elevenlabs_call_errors_pkey: duplicate error row id
INSERT INTO elevenlabs_call_errors (id, source, message) OVERRIDING SYSTEM VALUE SELECT id, 'internal', 'x' FROM elevenlabs_call_errors WHERE call_row_id = 930001;
-- expect: 23503 elevenlabs_call_errors_call_row_id_fkey: unknown call row
INSERT INTO elevenlabs_call_errors (call_row_id, source, message) VALUES (999999999, 'internal', 'x');
-- expect: 23502 elevenlabs_call_errors.source: source NOT NULL
INSERT INTO elevenlabs_call_errors (source, message) VALUES (NULL, 'x');
-- expect: 23514 elevenlabs_call_errors_source_check: source outside provider/webhook/reconciler/internal
INSERT INTO elevenlabs_call_errors (source, message) VALUES ('twilio', 'x');
-- expect: 23514 elevenlabs_call_errors_http_status_check: http_status above 599
INSERT INTO elevenlabs_call_errors (source, http_status, message) VALUES ('provider', 600, 'x');
-- expect: 23514 elevenlabs_call_errors_http_status_check: http_status below 100
INSERT INTO elevenlabs_call_errors (source, http_status, message) VALUES ('provider', 0, 'x');
-- expect: 23502 elevenlabs_call_errors.message: message NOT NULL
INSERT INTO elevenlabs_call_errors (source, message) VALUES ('internal', NULL);
-- expect: 23502 elevenlabs_call_errors.created_at: created_at NOT NULL
INSERT INTO elevenlabs_call_errors (source, message, created_at) VALUES ('internal', 'x', NULL);

-- ============================================================================================
-- webhook_inbox

-- expect: 23502 webhook_inbox.id: id NOT NULL
INSERT INTO webhook_inbox (id, event_type, conversation_id, body, body_sha256) OVERRIDING SYSTEM VALUE VALUES (NULL, 'post_call_audio', 'conv_fixture_2', '\x7b7d', '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
-- expect: 23505 webhook_inbox_pkey: duplicate inbox row id
INSERT INTO webhook_inbox (id, event_type, conversation_id, body, body_sha256) OVERRIDING SYSTEM VALUE SELECT id, 'post_call_audio', 'conv_fixture_2', '\x7b7d', '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a' FROM webhook_inbox WHERE conversation_id = 'conv_fixture_2';
-- expect: 23505 webhook_inbox_event_type_conversation_id_key: the same event for the same conversation is stored once
INSERT INTO webhook_inbox (event_type, conversation_id, body, body_sha256) VALUES ('post_call_transcription', 'conv_fixture_2', '\x7b7d', '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
-- expect: 23502 webhook_inbox.event_type: event_type NOT NULL
INSERT INTO webhook_inbox (event_type, conversation_id, body, body_sha256) VALUES (NULL, 'conv_fixture_2', '\x7b7d', '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
-- expect: 23514 webhook_inbox_event_type_check: event_type outside the known set
INSERT INTO webhook_inbox (event_type, conversation_id, body, body_sha256) VALUES ('post_call', 'conv_fixture_2', '\x7b7d', '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
-- expect: 23502 webhook_inbox.conversation_id: conversation_id NOT NULL
INSERT INTO webhook_inbox (event_type, conversation_id, body, body_sha256) VALUES ('post_call_audio', NULL, '\x7b7d', '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
-- expect: 23514 webhook_inbox_conversation_id_check: conversation_id not blank
INSERT INTO webhook_inbox (event_type, conversation_id, body, body_sha256) VALUES ('post_call_audio', '', '\x7b7d', '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
-- expect: 23502 webhook_inbox.received_at: received_at NOT NULL
INSERT INTO webhook_inbox (event_type, conversation_id, body, body_sha256, received_at) VALUES ('post_call_audio', 'conv_fixture_2', '\x7b7d', '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', NULL);
-- expect: 23502 webhook_inbox.body: body NOT NULL
INSERT INTO webhook_inbox (event_type, conversation_id, body, body_sha256) VALUES ('post_call_audio', 'conv_fixture_2', NULL, '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
-- expect: 23502 webhook_inbox.body_truncated: body_truncated NOT NULL
INSERT INTO webhook_inbox (event_type, conversation_id, body, body_sha256, body_truncated) VALUES ('post_call_audio', 'conv_fixture_2', '\x7b7d', '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', NULL);
-- expect: 23502 webhook_inbox.body_sha256: body_sha256 NOT NULL
INSERT INTO webhook_inbox (event_type, conversation_id, body, body_sha256) VALUES ('post_call_audio', 'conv_fixture_2', '\x7b7d', NULL);
-- expect: 23514 webhook_inbox_body_sha256_check: body_sha256 is 64 lowercase hex digits
INSERT INTO webhook_inbox (event_type, conversation_id, body, body_sha256) VALUES ('post_call_audio', 'conv_fixture_2', '\x7b7d', 'sha256=44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
-- expect: 23502 webhook_inbox.publish_attempts: publish_attempts NOT NULL
UPDATE webhook_inbox SET publish_attempts = NULL WHERE conversation_id = 'conv_fixture_2';
-- expect: 23514 webhook_inbox_publish_attempts_check: publish_attempts >= 0
UPDATE webhook_inbox SET publish_attempts = -1 WHERE conversation_id = 'conv_fixture_2';
-- expect: 23502 webhook_inbox.next_attempt_at: next_attempt_at NOT NULL
UPDATE webhook_inbox SET next_attempt_at = NULL WHERE conversation_id = 'conv_fixture_2';

-- ============================================================================================
-- unmatched_call_events

-- expect: 23502 unmatched_call_events.id: id NOT NULL
INSERT INTO unmatched_call_events (id, event_type, conversation_id, payload) OVERRIDING SYSTEM VALUE VALUES (NULL, 'post_call_audio', 'conv_unknown_2', '{}');
-- expect: 23505 unmatched_call_events_pkey: duplicate row id
INSERT INTO unmatched_call_events (id, event_type, conversation_id, payload) OVERRIDING SYSTEM VALUE SELECT id, 'post_call_audio', 'conv_unknown_2', '{}' FROM unmatched_call_events WHERE conversation_id = 'conv_unknown_1';
-- expect: 23505 unmatched_call_events_event_type_conversation_id_key: the same unmatched event is kept once
INSERT INTO unmatched_call_events (event_type, conversation_id, payload) VALUES ('post_call_audio', 'conv_unknown_1', '{}');
-- expect: 23502 unmatched_call_events.event_type: event_type NOT NULL
INSERT INTO unmatched_call_events (event_type, conversation_id, payload) VALUES (NULL, 'conv_unknown_2', '{}');
-- expect: 23514 unmatched_call_events_event_type_check: event_type outside the known set
INSERT INTO unmatched_call_events (event_type, conversation_id, payload) VALUES ('conversation_started', 'conv_unknown_2', '{}');
-- expect: 23502 unmatched_call_events.conversation_id: conversation_id NOT NULL
INSERT INTO unmatched_call_events (event_type, conversation_id, payload) VALUES ('post_call_audio', NULL, '{}');
-- expect: 23502 unmatched_call_events.payload: payload NOT NULL
INSERT INTO unmatched_call_events (event_type, conversation_id, payload) VALUES ('post_call_audio', 'conv_unknown_2', NULL);
-- expect: 23502 unmatched_call_events.received_at: received_at NOT NULL
INSERT INTO unmatched_call_events (event_type, conversation_id, payload, received_at) VALUES ('post_call_audio', 'conv_unknown_2', '{}', NULL);

-- ============================================================================================
-- idempotency_keys

-- expect: 23505 idempotency_keys_pkey: a key is used once per scope and principal
INSERT INTO idempotency_keys (scope, principal, idem_key, request_sha256, state, expires_at) VALUES ('InitiateCall', 'fixture-user', 'fixture-key-1', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'in_progress', now() + interval '1 day');
-- expect: 23502 idempotency_keys.scope: scope NOT NULL
INSERT INTO idempotency_keys (scope, principal, idem_key, request_sha256, state, expires_at) VALUES (NULL, 'u', 'k', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'in_progress', now() + interval '1 day');
-- expect: 23502 idempotency_keys.principal: principal NOT NULL
INSERT INTO idempotency_keys (scope, principal, idem_key, request_sha256, state, expires_at) VALUES ('InitiateCall', NULL, 'k', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'in_progress', now() + interval '1 day');
-- expect: 23502 idempotency_keys.idem_key: idem_key NOT NULL
INSERT INTO idempotency_keys (scope, principal, idem_key, request_sha256, state, expires_at) VALUES ('InitiateCall', 'u', NULL, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'in_progress', now() + interval '1 day');
-- expect: 23514 idempotency_keys_idem_key_check: idem_key not empty
INSERT INTO idempotency_keys (scope, principal, idem_key, request_sha256, state, expires_at) VALUES ('InitiateCall', 'u', '', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'in_progress', now() + interval '1 day');
-- expect: 23514 idempotency_keys_idem_key_check: idem_key at most 255 characters
INSERT INTO idempotency_keys (scope, principal, idem_key, request_sha256, state, expires_at) VALUES ('InitiateCall', 'u', repeat('k', 256), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'in_progress', now() + interval '1 day');
-- expect: 23502 idempotency_keys.request_sha256: request_sha256 NOT NULL
INSERT INTO idempotency_keys (scope, principal, idem_key, request_sha256, state, expires_at) VALUES ('InitiateCall', 'u', 'k', NULL, 'in_progress', now() + interval '1 day');
-- expect: 23514 idempotency_keys_request_sha256_check: request_sha256 is 64 lowercase hex digits
INSERT INTO idempotency_keys (scope, principal, idem_key, request_sha256, state, expires_at) VALUES ('InitiateCall', 'u', 'k', 'not-a-hash', 'in_progress', now() + interval '1 day');
-- expect: 23503 idempotency_keys_call_row_id_fkey: unknown call row
INSERT INTO idempotency_keys (scope, principal, idem_key, request_sha256, call_row_id, state, expires_at) VALUES ('InitiateCall', 'u', 'k', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 999999999, 'in_progress', now() + interval '1 day');
-- expect: 23502 idempotency_keys.state: state NOT NULL
INSERT INTO idempotency_keys (scope, principal, idem_key, request_sha256, state, expires_at) VALUES ('InitiateCall', 'u', 'k', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', NULL, now() + interval '1 day');
-- expect: 23514 idempotency_keys_state_check: state outside in_progress/completed
INSERT INTO idempotency_keys (scope, principal, idem_key, request_sha256, state, expires_at) VALUES ('InitiateCall', 'u', 'k', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'done', now() + interval '1 day');
-- expect: 23514 idempotency_keys_grpc_code_check: grpc_code is a gRPC status code (0..16)
UPDATE idempotency_keys SET grpc_code = 17 WHERE idem_key = 'fixture-key-1';
-- expect: 23514 idempotency_keys_completed_check: a completed key records its gRPC code
INSERT INTO idempotency_keys (scope, principal, idem_key, request_sha256, state, expires_at) VALUES ('InitiateCall', 'u', 'k', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'completed', now() + interval '1 day');
-- expect: 23502 idempotency_keys.created_at: created_at NOT NULL
INSERT INTO idempotency_keys (scope, principal, idem_key, request_sha256, state, created_at, expires_at) VALUES ('InitiateCall', 'u', 'k', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'in_progress', NULL, now() + interval '1 day');
-- expect: 23502 idempotency_keys.expires_at: expires_at NOT NULL
INSERT INTO idempotency_keys (scope, principal, idem_key, request_sha256, state, expires_at) VALUES ('InitiateCall', 'u', 'k', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'in_progress', NULL);
-- expect: 23514 idempotency_keys_expires_at_check: expires_at after created_at
INSERT INTO idempotency_keys (scope, principal, idem_key, request_sha256, state, expires_at) VALUES ('InitiateCall', 'u', 'k', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'in_progress', now());

-- ============================================================================================
-- data_subject_requests, data_request_erasures (0014)

-- expect: 23514 data_subject_requests_kind_check: access, rectification or deletion only
INSERT INTO data_subject_requests (patient_id, kind, state, received_at, received_via, requested_by, due_at, extended_due_at) VALUES (910001, 'forget', 'in_progress', now(), 'email', 'dpo', now() + interval '14 days', now() + interval '21 days');
-- expect: 23514 data_subject_requests_due_check: the deadline is after the request
INSERT INTO data_subject_requests (patient_id, kind, state, received_at, received_via, requested_by, due_at, extended_due_at) VALUES (910001, 'access', 'in_progress', now(), 'email', 'dpo', now() - interval '1 day', now());
-- expect: 23514 data_subject_requests_completed_check: completed exactly when completed_at is set
INSERT INTO data_subject_requests (patient_id, kind, state, received_at, received_via, requested_by, due_at, extended_due_at) VALUES (910001, 'access', 'completed', now(), 'email', 'dpo', now() + interval '14 days', now() + interval '21 days');
-- expect: 23503 data_subject_requests_patient_id_fkey: a request is about a known patient
INSERT INTO data_subject_requests (patient_id, kind, state, received_at, received_via, requested_by, due_at, extended_due_at) VALUES (999999, 'access', 'in_progress', now(), 'email', 'dpo', now() + interval '14 days', now() + interval '21 days');
-- expect: 23503 data_request_erasures_request_id_fkey: an erasure belongs to a request
INSERT INTO data_request_erasures (request_id, call_row_id) VALUES (999999, 930002);
