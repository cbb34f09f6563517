-- 0001_init: the call tables, patients and appointments, the webhook inbox, idempotency keys.
--
-- Applied by the migration runner as ONE transaction (no BEGIN/COMMIT here). Never edit this file
-- once released: add a new numbered file instead.
--
-- Conventions: times are timestamptz, money is numeric, states are text + CHECK (not enum types,
-- so that later migrations can extend a set with DROP/ADD CONSTRAINT). Constraint names are
-- explicit so that code and tests can recognise them. No constraint is DEFERRABLE: every violation
-- is reported by the statement that causes it.

-- ---------------------------------------------------------------------------------------------
-- Shared helpers

CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION set_updated_at() IS
  'BEFORE UPDATE trigger function: stamps updated_at = now() (transaction time) on every table that has the column.';

-- Rank of a call status in the forward-only state machine. Final states share the top rank.
-- NULL for an unknown status (the CHECK constraint on the column reports those).
-- A later migration that adds a status must CREATE OR REPLACE this function and the two below.
CREATE FUNCTION call_status_rank(status text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE status
           WHEN 'queued'         THEN 0
           WHEN 'dialing'        THEN 1
           WHEN 'initiated'      THEN 2
           WHEN 'ringing'        THEN 3
           WHEN 'in_progress'    THEN 4
           WHEN 'completed'      THEN 5
           WHEN 'failed'         THEN 5
           WHEN 'no_answer'      THEN 5
           WHEN 'busy'           THEN 5
           WHEN 'ended_manually' THEN 5
           WHEN 'canceled'       THEN 5
         END
$$;
COMMENT ON FUNCTION call_status_rank(text) IS
  'Forward order of call states: queued 0 < dialing 1 < initiated 2 < ringing 3 < in_progress 4 < final states 5. NULL for unknown states.';

CREATE FUNCTION call_status_is_final(status text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT status IN ('completed', 'failed', 'no_answer', 'busy', 'ended_manually', 'canceled')
$$;
COMMENT ON FUNCTION call_status_is_final(text) IS
  'True for the final call states: completed, failed, no_answer, busy, ended_manually, canceled.';

-- Whether a call may move from one status to another: same state always; never out of a final
-- state; otherwise only to a state of higher rank. Unknown states are left to the CHECK
-- constraint (true here). Use it in UPDATEs to apply late or duplicate events without errors:
--   UPDATE elevenlabs_conversations SET status = $2 WHERE id = $1 AND call_status_can_transition(status, $2)
CREATE FUNCTION call_status_can_transition(from_status text, to_status text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
           WHEN from_status IS NOT DISTINCT FROM to_status THEN true
           WHEN call_status_rank(from_status) IS NULL OR call_status_rank(to_status) IS NULL THEN true
           WHEN call_status_is_final(from_status) THEN false
           ELSE call_status_rank(to_status) > call_status_rank(from_status)
         END
$$;
COMMENT ON FUNCTION call_status_can_transition(text, text) IS
  'True when a call may move from_status -> to_status: same state, or forward from a non-final state. Final states never change.';

-- Masks an E.164 number for display: keeps "+", the country calling code and the last 4 digits,
-- e.g. +573001234567 -> +57******4567. The country code length follows the ITU assignment
-- (1 digit for zones 1 and 7, 2 digits for the listed codes, else 3).
CREATE FUNCTION mask_phone_e164(phone text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  WITH p AS (
    SELECT substr(phone, 2) AS digits,
           CASE
             WHEN substr(phone, 2, 1) IN ('1', '7') THEN 1
             WHEN substr(phone, 2, 2) IN (
               '20','27','30','31','32','33','34','36','39','40','41','43','44','45','46','47','48',
               '49','51','52','53','54','55','56','57','58','60','61','62','63','64','65','66','81',
               '82','84','86','90','91','92','93','94','95','98') THEN 2
             ELSE 3
           END AS cc_len
  ), t AS (
    SELECT digits, cc_len, least(4, greatest(length(digits) - cc_len - 2, 0)) AS tail_len FROM p
  )
  SELECT CASE
           WHEN phone !~ '^\+[0-9]{4,}$' THEN '***'
           ELSE '+' || left(digits, cc_len) || repeat('*', length(digits) - cc_len - tail_len)
                || right(digits, tail_len)
         END
  FROM t
$$;
COMMENT ON FUNCTION mask_phone_e164(text) IS
  'Display mask for an E.164 number: country code and last 4 digits kept (+57******4567); *** for anything not E.164-like.';

-- ---------------------------------------------------------------------------------------------
-- Patients and appointments (the clinic's data the calls are about)

CREATE TABLE patients (
  id           integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  external_ref text,
  full_name    text NOT NULL,
  phone_e164   text,
  do_not_call  boolean NOT NULL DEFAULT false,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT patients_external_ref_key UNIQUE (external_ref),
  CONSTRAINT patients_external_ref_check CHECK (btrim(external_ref) <> ''),
  CONSTRAINT patients_full_name_check CHECK (btrim(full_name) <> ''),
  CONSTRAINT patients_phone_e164_check CHECK (phone_e164 ~ '^\+[1-9][0-9]{6,14}$')
);
COMMENT ON TABLE patients IS
  'Clinic patients the services may call. phone_e164 is the normalised number (E.164, default country +57); do_not_call blocks every call.';
COMMENT ON COLUMN patients.external_ref IS 'Patient id in the clinic''s own system (unique when present).';
CREATE INDEX patients_phone_e164_idx ON patients (phone_e164);
CREATE TRIGGER patients_set_updated_at BEFORE UPDATE ON patients
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE appointments (
  id           integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  patient_id   integer NOT NULL,
  scheduled_at timestamptz NOT NULL,
  doctor_name  text,
  specialty    text,
  location     text,
  status       text NOT NULL DEFAULT 'scheduled',
  confirmed_at timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT appointments_patient_id_fkey FOREIGN KEY (patient_id) REFERENCES patients (id) ON DELETE CASCADE,
  CONSTRAINT appointments_status_check CHECK (
    status IN ('scheduled', 'confirmed', 'reschedule_requested', 'canceled', 'completed', 'no_show'))
);
COMMENT ON TABLE appointments IS
  'Patients'' appointments; calls confirm them (status confirmed + confirmed_at) or record a reschedule request.';
CREATE INDEX appointments_patient_id_scheduled_at_idx ON appointments (patient_id, scheduled_at);
CREATE INDEX appointments_scheduled_at_idx ON appointments (scheduled_at);
CREATE TRIGGER appointments_set_updated_at BEFORE UPDATE ON appointments
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE call_opt_outs (
  phone_e164 text PRIMARY KEY,
  patient_id integer,
  reason     text,
  source     text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT call_opt_outs_patient_id_fkey FOREIGN KEY (patient_id) REFERENCES patients (id) ON DELETE SET NULL,
  CONSTRAINT call_opt_outs_phone_e164_check CHECK (phone_e164 ~ '^\+[1-9][0-9]{6,14}$'),
  CONSTRAINT call_opt_outs_source_check CHECK (source IN ('patient_request', 'call_outcome', 'admin'))
);
COMMENT ON TABLE call_opt_outs IS
  'Phone numbers that asked not to be called again; checked before every dial (with patients.do_not_call).';
CREATE INDEX call_opt_outs_patient_id_idx ON call_opt_outs (patient_id) WHERE patient_id IS NOT NULL;

-- ---------------------------------------------------------------------------------------------
-- Calls (table names kept from the original system)

CREATE TABLE elevenlabs_conversations (
  id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  call_id               uuid NOT NULL DEFAULT gen_random_uuid(),
  conversation_id       text,
  call_sid              text,
  sip_call_id           text,
  agent_id              text NOT NULL,
  agent_phone_number_id text,
  patient_id            integer,
  appointment_id        integer,
  phone_number          text NOT NULL,
  patient_name          text,
  status                text NOT NULL DEFAULT 'queued',
  custom_variables      jsonb NOT NULL DEFAULT '{}',
  metadata              jsonb NOT NULL DEFAULT '{}',
  max_duration_secs     integer,
  dial_attempted_at     timestamptz,
  started_at            timestamptz,
  ended_at              timestamptz,
  duration_secs         integer,
  cost                  numeric(14,4),
  termination_reason    text,
  call_successful       text,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT elevenlabs_conversations_call_id_key UNIQUE (call_id),
  CONSTRAINT elevenlabs_conversations_conversation_id_key UNIQUE (conversation_id),
  CONSTRAINT elevenlabs_conversations_patient_id_fkey FOREIGN KEY (patient_id)
    REFERENCES patients (id) ON DELETE SET NULL,
  CONSTRAINT elevenlabs_conversations_appointment_id_fkey FOREIGN KEY (appointment_id)
    REFERENCES appointments (id) ON DELETE SET NULL,
  CONSTRAINT elevenlabs_conversations_conversation_id_check CHECK (btrim(conversation_id) <> ''),
  CONSTRAINT elevenlabs_conversations_agent_id_check CHECK (btrim(agent_id) <> ''),
  CONSTRAINT elevenlabs_conversations_phone_number_check CHECK (phone_number ~ '^\+[1-9][0-9]{6,14}$'),
  CONSTRAINT elevenlabs_conversations_status_check CHECK (status IN (
    'queued', 'dialing', 'initiated', 'ringing', 'in_progress',
    'completed', 'failed', 'no_answer', 'busy', 'ended_manually', 'canceled')),
  CONSTRAINT elevenlabs_conversations_custom_variables_check CHECK (jsonb_typeof(custom_variables) = 'object'),
  CONSTRAINT elevenlabs_conversations_metadata_check CHECK (jsonb_typeof(metadata) = 'object'),
  CONSTRAINT elevenlabs_conversations_max_duration_secs_check CHECK (max_duration_secs > 0),
  CONSTRAINT elevenlabs_conversations_duration_secs_check CHECK (duration_secs >= 0),
  CONSTRAINT elevenlabs_conversations_cost_check CHECK (cost >= 0),
  CONSTRAINT elevenlabs_conversations_call_successful_check CHECK (call_successful IN ('success', 'failure', 'unknown')),
  CONSTRAINT elevenlabs_conversations_ended_after_started_check CHECK (ended_at >= started_at),
  -- ElevenLabs may accept an outbound call without returning a conversation id, and a call can
  -- fail (or be ended by us) before it ever had one; but a call that rang, was answered or
  -- completed is always known to ElevenLabs by its conversation id.
  CONSTRAINT elevenlabs_conversations_conversation_id_required_check CHECK (
    conversation_id IS NOT NULL OR status NOT IN ('ringing', 'in_progress', 'completed')),
  -- A call in "dialing" records when the outbound request was sent, so that a lost response can
  -- be reconciled (conversations list) before anyone dials again.
  CONSTRAINT elevenlabs_conversations_dialing_attempt_check CHECK (
    status <> 'dialing' OR dial_attempted_at IS NOT NULL)
);
COMMENT ON TABLE elevenlabs_conversations IS
  'One row per call we place (or queue). call_id is our correlation id sent to ElevenLabs; conversation_id is ElevenLabs'' id (NULL until known). Status only moves forward (trigger elevenlabs_conversations_status_forward).';
COMMENT ON COLUMN elevenlabs_conversations.status IS
  'queued (recorded, not sent) -> dialing (outbound request sent, answer not recorded) -> initiated -> ringing -> in_progress -> final: completed, failed, no_answer, busy, ended_manually, canceled.';
COMMENT ON COLUMN elevenlabs_conversations.patient_name IS 'Name passed to the agent; PII: never log it, never show it in views.';
COMMENT ON COLUMN elevenlabs_conversations.cost IS 'Call cost as reported by ElevenLabs, stored exactly.';

CREATE INDEX elevenlabs_conversations_created_at_idx ON elevenlabs_conversations (created_at DESC, id DESC);
CREATE INDEX elevenlabs_conversations_patient_id_created_at_idx ON elevenlabs_conversations (patient_id, created_at DESC);
CREATE INDEX elevenlabs_conversations_status_created_at_idx ON elevenlabs_conversations (status, created_at);
CREATE INDEX elevenlabs_conversations_agent_id_created_at_idx ON elevenlabs_conversations (agent_id, created_at);
CREATE INDEX elevenlabs_conversations_appointment_id_idx ON elevenlabs_conversations (appointment_id)
  WHERE appointment_id IS NOT NULL;
-- One phone number cannot have two live calls for the same appointment (0 = no appointment).
CREATE UNIQUE INDEX elevenlabs_conversations_one_live_call_key
  ON elevenlabs_conversations (phone_number, COALESCE(appointment_id, 0))
  WHERE status IN ('queued', 'dialing', 'initiated', 'ringing', 'in_progress');

CREATE FUNCTION elevenlabs_conversations_status_forward() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NOT call_status_can_transition(OLD.status, NEW.status) THEN
    RAISE EXCEPTION 'call status cannot move from % to %', OLD.status, NEW.status
      USING ERRCODE = 'check_violation',
            DETAIL = format('call row id %s: %s', OLD.id,
                            CASE WHEN call_status_is_final(OLD.status)
                                 THEN 'a final state never changes'
                                 ELSE 'states only move forward' END),
            SCHEMA = TG_TABLE_SCHEMA,
            TABLE = TG_TABLE_NAME,
            COLUMN = 'status',
            CONSTRAINT = 'elevenlabs_conversations_status_forward';
  END IF;
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION elevenlabs_conversations_status_forward() IS
  'Trigger: rejects (SQLSTATE 23514, constraint elevenlabs_conversations_status_forward) a status change out of a final state or to a lower rank.';

CREATE TRIGGER elevenlabs_conversations_status_forward
  BEFORE UPDATE OF status ON elevenlabs_conversations
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION elevenlabs_conversations_status_forward();
CREATE TRIGGER elevenlabs_conversations_set_updated_at BEFORE UPDATE ON elevenlabs_conversations
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE elevenlabs_transcriptions (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  conversation_id   text NOT NULL,
  turn_index        integer NOT NULL,
  role              text NOT NULL,
  message           text,
  time_in_call_secs integer,
  tool_calls        jsonb,
  tool_results      jsonb,
  interrupted       boolean NOT NULL DEFAULT false,
  created_at        timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT elevenlabs_transcriptions_conversation_id_fkey FOREIGN KEY (conversation_id)
    REFERENCES elevenlabs_conversations (conversation_id) ON DELETE CASCADE,
  CONSTRAINT elevenlabs_transcriptions_conversation_id_turn_index_key UNIQUE (conversation_id, turn_index),
  CONSTRAINT elevenlabs_transcriptions_turn_index_check CHECK (turn_index >= 0),
  CONSTRAINT elevenlabs_transcriptions_role_check CHECK (role IN ('user', 'agent')),
  CONSTRAINT elevenlabs_transcriptions_time_in_call_secs_check CHECK (time_in_call_secs >= 0)
);
COMMENT ON TABLE elevenlabs_transcriptions IS
  'Transcript turns of a conversation, from the post_call_transcription webhook (turn_index = position in the transcript; message NULL for tool-only turns).';

CREATE TABLE elevenlabs_analysis (
  conversation_id             text PRIMARY KEY,
  call_successful             text,
  transcript_summary          text,
  call_summary_title          text,
  data_collection_results     jsonb NOT NULL DEFAULT '{}',
  evaluation_criteria_results jsonb NOT NULL DEFAULT '{}',
  created_at                  timestamptz NOT NULL DEFAULT now(),
  updated_at                  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT elevenlabs_analysis_conversation_id_fkey FOREIGN KEY (conversation_id)
    REFERENCES elevenlabs_conversations (conversation_id) ON DELETE CASCADE,
  CONSTRAINT elevenlabs_analysis_call_successful_check CHECK (call_successful IN ('success', 'failure', 'unknown')),
  CONSTRAINT elevenlabs_analysis_data_collection_results_check CHECK (jsonb_typeof(data_collection_results) = 'object'),
  CONSTRAINT elevenlabs_analysis_evaluation_criteria_results_check CHECK (jsonb_typeof(evaluation_criteria_results) = 'object')
);
COMMENT ON TABLE elevenlabs_analysis IS
  'ElevenLabs'' post-call analysis of a conversation: success verdict, summary, data collection and evaluation criteria.';
CREATE TRIGGER elevenlabs_analysis_set_updated_at BEFORE UPDATE ON elevenlabs_analysis
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE elevenlabs_audio (
  conversation_id text PRIMARY KEY,
  content_type    text NOT NULL DEFAULT 'audio/mpeg',
  size_bytes      bigint NOT NULL,
  sha256          text NOT NULL,
  audio           bytea,
  storage_uri     text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT elevenlabs_audio_conversation_id_fkey FOREIGN KEY (conversation_id)
    REFERENCES elevenlabs_conversations (conversation_id) ON DELETE CASCADE,
  CONSTRAINT elevenlabs_audio_size_bytes_check CHECK (size_bytes >= 0),
  CONSTRAINT elevenlabs_audio_sha256_check CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  CONSTRAINT elevenlabs_audio_location_check CHECK (audio IS NOT NULL OR storage_uri IS NOT NULL)
);
COMMENT ON TABLE elevenlabs_audio IS
  'Call recording (only when SAVE_CALL_AUDIO): the bytes inline or a storage URI, with size and SHA-256 (lowercase hex) of the decoded audio.';
ALTER TABLE elevenlabs_audio ALTER COLUMN audio SET STORAGE EXTERNAL; -- already compressed (mp3)

CREATE TABLE elevenlabs_call_errors (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  call_row_id     bigint,
  conversation_id text,
  source          text NOT NULL,
  error_code      text,
  http_status     integer,
  message         text NOT NULL,
  details         jsonb,
  created_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT elevenlabs_call_errors_call_row_id_fkey FOREIGN KEY (call_row_id)
    REFERENCES elevenlabs_conversations (id) ON DELETE CASCADE,
  CONSTRAINT elevenlabs_call_errors_source_check CHECK (source IN ('provider', 'webhook', 'reconciler', 'internal')),
  CONSTRAINT elevenlabs_call_errors_http_status_check CHECK (http_status BETWEEN 100 AND 599)
);
COMMENT ON TABLE elevenlabs_call_errors IS
  'Errors met while placing, tracking or reconciling calls. conversation_id has no foreign key: errors may concern conversations we do not know. Messages carry no secrets and no patient data.';
CREATE INDEX elevenlabs_call_errors_created_at_idx ON elevenlabs_call_errors (created_at DESC);
CREATE INDEX elevenlabs_call_errors_call_row_id_idx ON elevenlabs_call_errors (call_row_id);

-- Display view of recent calls (the original system's monitoring entry point). No patient names;
-- phone numbers masked.
CREATE VIEW elevenlabs_recent_calls AS
SELECT c.id,
       c.conversation_id,
       c.call_id,
       c.status,
       c.agent_id,
       c.patient_id,
       c.appointment_id,
       mask_phone_e164(c.phone_number) AS phone_number_masked,
       c.duration_secs,
       c.cost,
       COALESCE(a.call_successful, c.call_successful) AS call_successful,
       a.transcript_summary,
       c.created_at,
       c.started_at,
       c.ended_at
FROM elevenlabs_conversations c
LEFT JOIN elevenlabs_analysis a ON a.conversation_id = c.conversation_id
ORDER BY c.created_at DESC, c.id DESC;
COMMENT ON VIEW elevenlabs_recent_calls IS
  'Calls newest first, with analysis verdict and summary; phone masked (+57******4567), no patient names. SELECT * FROM elevenlabs_recent_calls LIMIT 10;';

-- ---------------------------------------------------------------------------------------------
-- Webhook inbox (written by webhook-ingest before it answers 200) and its leftovers

CREATE TABLE webhook_inbox (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_type      text NOT NULL,
  conversation_id text NOT NULL,
  event_timestamp bigint,
  received_at     timestamptz NOT NULL DEFAULT now(),
  body            bytea NOT NULL,
  body_truncated  boolean NOT NULL DEFAULT false,
  body_sha256     text NOT NULL,
  published_at    timestamptz,
  publish_attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error      text,
  CONSTRAINT webhook_inbox_event_type_check CHECK (
    event_type IN ('post_call_transcription', 'post_call_audio', 'call_initiation_failure')),
  CONSTRAINT webhook_inbox_conversation_id_check CHECK (btrim(conversation_id) <> ''),
  CONSTRAINT webhook_inbox_body_sha256_check CHECK (body_sha256 ~ '^[0-9a-f]{64}$'),
  CONSTRAINT webhook_inbox_publish_attempts_check CHECK (publish_attempts >= 0),
  CONSTRAINT webhook_inbox_event_type_conversation_id_key UNIQUE (event_type, conversation_id)
);
COMMENT ON TABLE webhook_inbox IS
  'Verified ElevenLabs webhook events, stored durably (one per event type and conversation) before answering 200, then published to call-gateway until acknowledged (published_at).';
COMMENT ON COLUMN webhook_inbox.body IS
  'The exact verified request body; for post_call_audio it may be stored without the audio (body_truncated), the audio then being in elevenlabs_audio.';
COMMENT ON COLUMN webhook_inbox.body_sha256 IS 'SHA-256 (lowercase hex) of the full body as received and verified, even when body is truncated.';
COMMENT ON COLUMN webhook_inbox.event_timestamp IS 'event_timestamp of the webhook payload (Unix seconds).';
CREATE INDEX webhook_inbox_unpublished_idx ON webhook_inbox (next_attempt_at, id) WHERE published_at IS NULL;
CREATE INDEX webhook_inbox_conversation_id_idx ON webhook_inbox (conversation_id, id);

CREATE TABLE unmatched_call_events (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  inbox_id        bigint,
  event_type      text NOT NULL,
  conversation_id text NOT NULL,
  payload         jsonb NOT NULL,
  received_at     timestamptz NOT NULL DEFAULT now(),
  resolved_at     timestamptz,
  CONSTRAINT unmatched_call_events_event_type_check CHECK (
    event_type IN ('post_call_transcription', 'post_call_audio', 'call_initiation_failure')),
  CONSTRAINT unmatched_call_events_event_type_conversation_id_key UNIQUE (event_type, conversation_id)
);
COMMENT ON TABLE unmatched_call_events IS
  'Events that reached call-gateway for a conversation it does not know: kept (not dropped) for later matching or inspection. inbox_id points at webhook_inbox.id without a foreign key (the inbox may be purged).';

-- ---------------------------------------------------------------------------------------------
-- Idempotency keys of call-placing RPCs

CREATE TABLE idempotency_keys (
  scope          text NOT NULL,
  principal      text NOT NULL,
  idem_key       text NOT NULL,
  request_sha256 text NOT NULL,
  call_row_id    bigint,
  state          text NOT NULL,
  response       jsonb,
  grpc_code      integer,
  created_at     timestamptz NOT NULL DEFAULT now(),
  expires_at     timestamptz NOT NULL,
  CONSTRAINT idempotency_keys_pkey PRIMARY KEY (scope, principal, idem_key),
  CONSTRAINT idempotency_keys_call_row_id_fkey FOREIGN KEY (call_row_id)
    REFERENCES elevenlabs_conversations (id) ON DELETE SET NULL,
  CONSTRAINT idempotency_keys_idem_key_check CHECK (char_length(idem_key) BETWEEN 1 AND 255),
  CONSTRAINT idempotency_keys_request_sha256_check CHECK (request_sha256 ~ '^[0-9a-f]{64}$'),
  CONSTRAINT idempotency_keys_state_check CHECK (state IN ('in_progress', 'completed')),
  CONSTRAINT idempotency_keys_grpc_code_check CHECK (grpc_code BETWEEN 0 AND 16),
  CONSTRAINT idempotency_keys_completed_check CHECK (state <> 'completed' OR grpc_code IS NOT NULL),
  CONSTRAINT idempotency_keys_expires_at_check CHECK (expires_at > created_at)
);
COMMENT ON TABLE idempotency_keys IS
  'Idempotency keys of non-idempotent RPCs (scope = RPC name, principal = JWT subject): the same key and request replays the recorded outcome instead of dialling again; a different request with the same key is rejected.';
CREATE INDEX idempotency_keys_expires_at_idx ON idempotency_keys (expires_at);
CREATE INDEX idempotency_keys_call_row_id_idx ON idempotency_keys (call_row_id) WHERE call_row_id IS NOT NULL;
