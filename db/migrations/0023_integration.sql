-- Issue 18: integration with the clinic's systems.
--
--   appointments.external_ref   the appointment's id in the clinic's system (the sync API's key)
--   sync effects                an appointment canceled, finished, moved or deleted (and a patient
--                               deleted) reaches the campaign queues in the same statement: calls
--                               not yet dialled about it end canceled; an automation enrolment of
--                               a moved appointment is withdrawn as appointment_moved, which the
--                               rule's next pass re-enrols at the new time
--   webhook_subscriptions       the clinic's endpoints, the event types each wants, its state and
--   webhook_secrets             failure streak; its signing secrets, versioned (rotation)
--   webhook_events              the outbox: one row per event, written by the triggers below in
--                               the transaction of the change it reports (at its commit, so it
--                               sees the whole change), numbered in commit order per subject
--   webhook_deliveries          one row per subscription and event: pending until delivered (or
--   webhook_attempts            failed after the retry period); every attempt with its answer
--
-- Event types: call.completed, call.failed, appointment.confirmed,
-- appointment.reschedule_requested, appointment.canceled, patient.opted_out, campaign.completed,
-- campaign.auto_paused. An event's data holds the patient's phone number and name in full; the
-- sender masks them (webhook_data_masked) for subscriptions without full_data.

-- ---------------------------------------------------------------------------------------------
-- Sync

ALTER TABLE appointments ADD COLUMN external_ref text;
ALTER TABLE appointments ADD CONSTRAINT appointments_external_ref_key UNIQUE (external_ref);
ALTER TABLE appointments ADD CONSTRAINT appointments_external_ref_check
  CHECK (btrim(external_ref) <> '');
COMMENT ON COLUMN appointments.external_ref IS
  'Appointment id in the clinic''s own system (unique when present): the sync API''s key.';
CREATE INDEX patients_updated_at_idx ON patients (updated_at, id);
CREATE INDEX appointments_updated_at_idx ON appointments (updated_at, id);

GRANT INSERT, UPDATE, DELETE ON patients, appointments TO outcall_gateway;
GRANT USAGE, SELECT ON SEQUENCE patients_id_seq, appointments_id_seq TO outcall_gateway;

-- Calls not yet dialled about an appointment that was canceled, finished or deleted end canceled;
-- those an automation rule enrolled for the appointment's old time are withdrawn when it moves.
-- Calls being dialled or in progress are left to finish. Manual campaigns read the appointment's
-- time when they dial, so a move re-plans them by itself.
CREATE FUNCTION appointments_reach_campaigns() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' OR NEW.status IN ('canceled', 'completed', 'no_show') THEN
    UPDATE campaign_recipients r
       SET state = 'canceled',
           outcome = CASE WHEN TG_OP = 'DELETE' THEN 'appointment_deleted'
                          ELSE 'appointment_' || NEW.status END,
           next_attempt_at = NULL,
           detail = CASE WHEN TG_OP = 'DELETE' THEN 'its appointment was deleted'
                         ELSE 'its appointment is ' || NEW.status END
     WHERE r.appointment_id = OLD.id AND r.state IN ('pending', 'scheduled');
  ELSIF NEW.scheduled_at IS DISTINCT FROM OLD.scheduled_at THEN
    UPDATE campaign_recipients r
       SET state = 'canceled', outcome = 'appointment_moved', next_attempt_at = NULL,
           detail = 'its appointment moved; the automation rule enrols the new time'
      FROM automation_enrollments e
     WHERE e.appointment_id = NEW.id AND e.campaign_id = r.campaign_id
       AND e.scheduled_at <> NEW.scheduled_at
       AND r.appointment_id = NEW.id AND r.state IN ('pending', 'scheduled');
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER appointments_reach_campaigns_upd AFTER UPDATE OF status, scheduled_at ON appointments
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
                     OR OLD.scheduled_at IS DISTINCT FROM NEW.scheduled_at)
  EXECUTE FUNCTION appointments_reach_campaigns();
CREATE TRIGGER appointments_reach_campaigns_del BEFORE DELETE ON appointments
  FOR EACH ROW EXECUTE FUNCTION appointments_reach_campaigns();

-- A deleted patient's queued calls (by patient or by number) end canceled before the rows go.
CREATE FUNCTION patients_reach_campaigns() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE campaign_recipients r
     SET state = 'canceled', outcome = 'patient_deleted', next_attempt_at = NULL,
         detail = 'the patient was deleted by the clinic''s system'
   WHERE r.patient_id = OLD.id AND r.state IN ('pending', 'scheduled');
  RETURN OLD;
END
$$;
CREATE TRIGGER patients_reach_campaigns_del BEFORE DELETE ON patients
  FOR EACH ROW EXECUTE FUNCTION patients_reach_campaigns();

-- ---------------------------------------------------------------------------------------------
-- Outbound webhooks

CREATE FUNCTION webhook_event_type_is_known(t text) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN t IN ('call.completed', 'call.failed', 'appointment.confirmed',
               'appointment.reschedule_requested', 'appointment.canceled', 'patient.opted_out',
               'campaign.completed', 'campaign.auto_paused');

CREATE TABLE webhook_subscriptions (
  id              bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  subscription_id uuid NOT NULL DEFAULT gen_random_uuid(),
  url             text NOT NULL,
  event_types     text[] NOT NULL,
  full_data       boolean NOT NULL DEFAULT false,
  description     text NOT NULL DEFAULT '',
  state           text NOT NULL DEFAULT 'active',
  disabled_reason text,
  disabled_at     timestamptz,
  failure_streak  integer NOT NULL DEFAULT 0,
  failing_since   timestamptz,
  last_success_at timestamptz,
  created_by      text NOT NULL,
  create_key      text,                -- the creating request's Idempotency-Key
  create_sha256   text,                -- and its body's hash
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT webhook_subscriptions_subscription_id_key UNIQUE (subscription_id),
  CONSTRAINT webhook_subscriptions_create_key UNIQUE (created_by, create_key),
  CONSTRAINT webhook_subscriptions_url_check CHECK (url ~ '^https?://[^[:space:]]+$'),
  CONSTRAINT webhook_subscriptions_event_types_check CHECK (cardinality(event_types) > 0),
  CONSTRAINT webhook_subscriptions_state_check CHECK (state IN ('active', 'disabled', 'deleted')),
  CONSTRAINT webhook_subscriptions_disabled_check
    CHECK ((state = 'disabled') = (disabled_at IS NOT NULL))
);
COMMENT ON TABLE webhook_subscriptions IS
  'The clinic''s endpoints for outbound webhooks (Standard Webhooks): event types, state, failure streak.';
CREATE TRIGGER webhook_subscriptions_set_updated_at BEFORE UPDATE ON webhook_subscriptions
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE webhook_secrets (
  subscription_id bigint NOT NULL,
  version         integer NOT NULL,
  secret          text NOT NULL,       -- the key, base64 (shown once as "whsec_" + it)
  created_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz,         -- NULL: the current secret; else signs until then
  CONSTRAINT webhook_secrets_pkey PRIMARY KEY (subscription_id, version),
  CONSTRAINT webhook_secrets_subscription_id_fkey FOREIGN KEY (subscription_id)
    REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
  CONSTRAINT webhook_secrets_secret_check CHECK (length(secret) >= 32)
);
COMMENT ON TABLE webhook_secrets IS
  'Signing secrets of each subscription, versioned: the current one and, during a rotation, the previous one until it expires.';

CREATE TABLE webhook_events (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id   text NOT NULL DEFAULT 'msg_' || replace(gen_random_uuid()::text, '-', ''),
  event_type text NOT NULL,
  subject    text NOT NULL,
  data       jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  CONSTRAINT webhook_events_event_id_key UNIQUE (event_id),
  CONSTRAINT webhook_events_event_type_check CHECK (webhook_event_type_is_known(event_type)),
  CONSTRAINT webhook_events_data_check CHECK (jsonb_typeof(data) = 'object')
);
COMMENT ON TABLE webhook_events IS
  'Outbox of outbound webhook events, written in the transaction of the change each reports.';
CREATE INDEX webhook_events_created_at_idx ON webhook_events (created_at, id);
CREATE INDEX webhook_events_type_idx ON webhook_events (event_type, id);

CREATE TABLE webhook_deliveries (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  subscription_id  bigint NOT NULL,
  event_row        bigint NOT NULL,
  subject          text NOT NULL,
  state            text NOT NULL DEFAULT 'pending',
  attempts         integer NOT NULL DEFAULT 0,
  round_base       integer NOT NULL DEFAULT 0,  -- attempts before it was last queued
  queued_at        timestamptz NOT NULL DEFAULT clock_timestamp(),  -- the retry period's start
  next_attempt_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  lease_owner      text,
  lease_expires_at timestamptz,
  delivered_at     timestamptz,
  created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
  CONSTRAINT webhook_deliveries_once_key UNIQUE (subscription_id, event_row),
  CONSTRAINT webhook_deliveries_subscription_id_fkey FOREIGN KEY (subscription_id)
    REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
  CONSTRAINT webhook_deliveries_event_row_fkey FOREIGN KEY (event_row)
    REFERENCES webhook_events (id) ON DELETE CASCADE,
  CONSTRAINT webhook_deliveries_state_check CHECK (state IN ('pending', 'delivered', 'failed')),
  CONSTRAINT webhook_deliveries_delivered_check
    CHECK ((state = 'delivered') = (delivered_at IS NOT NULL))
);
COMMENT ON TABLE webhook_deliveries IS
  'Each event for each subscription: pending (due at next_attempt_at; only the oldest pending one of a subject is sent), delivered, or failed after the retry period.';
-- The head of each (subscription, subject) queue (the claim probes the oldest undelivered row
-- of a subject: subjects are short, a call or an appointment), and the due heads.
CREATE INDEX webhook_deliveries_subject_idx ON webhook_deliveries (subscription_id, subject, event_row);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
  WHERE state = 'pending';
CREATE INDEX webhook_deliveries_log_idx ON webhook_deliveries (subscription_id, event_row DESC);

CREATE TABLE webhook_attempts (
  delivery_id bigint NOT NULL,
  attempt     integer NOT NULL,
  at          timestamptz NOT NULL,
  http_status integer NOT NULL DEFAULT 0,
  error       text,
  duration_ms integer NOT NULL DEFAULT 0,
  CONSTRAINT webhook_attempts_pkey PRIMARY KEY (delivery_id, attempt),
  CONSTRAINT webhook_attempts_delivery_id_fkey FOREIGN KEY (delivery_id)
    REFERENCES webhook_deliveries (id) ON DELETE CASCADE
);
COMMENT ON TABLE webhook_attempts IS 'Every delivery attempt with the receiver''s HTTP status or the transport error.';

-- The data as subscriptions without full_data get it: the phone number masked, the name and the
-- call's summary (which can quote the patient) left out. STABLE, as jsonb_build_object is: an
-- IMMUTABLE SQL function calling it is never inlined (150 us a row in the sender's claim).
CREATE FUNCTION webhook_data_masked(d jsonb) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN d ? 'phoneNumber' AND jsonb_typeof(d->'phoneNumber') = 'string'
              THEN (d - 'patientName' - 'transcriptSummary')
                   || jsonb_build_object('phoneNumber', mask_phone_e164(d->>'phoneNumber'))
              ELSE d - 'patientName' - 'transcriptSummary' END
$$;

-- Writes one event and queues it for every subscription (active or disabled: a disabled one
-- keeps its queue and resumes it when enabled again) that wants its type.
CREATE FUNCTION webhook_emit(p_type text, p_subject text, p_data jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  ev bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM webhook_subscriptions
                  WHERE state <> 'deleted' AND p_type = ANY (event_types)) THEN
    RETURN;  -- nobody listens: no row (the common case costs one index-less lookup of a tiny table)
  END IF;
  INSERT INTO webhook_events (event_type, subject, data) VALUES (p_type, p_subject, p_data)
    RETURNING id INTO ev;
  INSERT INTO webhook_deliveries (subscription_id, event_row, subject)
    SELECT s.id, ev, p_subject FROM webhook_subscriptions s
     WHERE s.state <> 'deleted' AND p_type = ANY (s.event_types);
END
$$;

-- call.completed (completed, ended_manually) and call.failed (failed, no_answer, busy, canceled),
-- when a call reaches its final state. Deferred to the commit, so the analysis written by the
-- same transaction is in it.
CREATE FUNCTION calls_emit_webhook() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  c record;
BEGIN
  SELECT v.*, a.transcript_summary, a.data_collection_results,
         p.external_ref AS patient_ref, ap.external_ref AS appointment_ref
    INTO c
    FROM elevenlabs_conversations v
    LEFT JOIN elevenlabs_analysis a ON a.conversation_id = v.conversation_id
    LEFT JOIN patients p ON p.id = v.patient_id
    LEFT JOIN appointments ap ON ap.id = v.appointment_id
   WHERE v.id = NEW.id;
  IF NOT FOUND THEN RETURN NULL; END IF;
  PERFORM webhook_emit(
    CASE WHEN NEW.status IN ('completed', 'ended_manually') THEN 'call.completed'
         ELSE 'call.failed' END,
    'call:' || c.call_id::text,
    jsonb_strip_nulls(jsonb_build_object(
      'callId', c.call_id, 'conversationId', c.conversation_id, 'status', NEW.status,
      'agentId', c.agent_id, 'patientId', c.patient_id, 'patientExternalRef', c.patient_ref,
      'appointmentId', c.appointment_id, 'appointmentExternalRef', c.appointment_ref,
      'phoneNumber', c.phone_number, 'patientName', c.patient_name,
      'campaignId', c.metadata->>'campaign_id',
      'startedAt', c.started_at, 'endedAt', c.ended_at, 'durationSecs', c.duration_secs,
      'terminationReason', c.termination_reason, 'callSuccessful', c.call_successful,
      'transcriptSummary', c.transcript_summary,
      'dataCollection', CASE WHEN c.data_collection_results = '{}'::jsonb THEN NULL
                             ELSE c.data_collection_results END)));
  RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER calls_emit_webhook_upd AFTER UPDATE OF status ON elevenlabs_conversations
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status AND call_status_is_final(NEW.status))
  EXECUTE FUNCTION calls_emit_webhook();
CREATE CONSTRAINT TRIGGER calls_emit_webhook_ins AFTER INSERT ON elevenlabs_conversations
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (call_status_is_final(NEW.status))
  EXECUTE FUNCTION calls_emit_webhook();

-- appointment.confirmed, appointment.reschedule_requested, appointment.canceled: a status change
-- to one of those, whoever made it (a call's outcome, staff's review, the clinic's sync).
CREATE FUNCTION appointments_emit_webhook() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  a record;
BEGIN
  SELECT ap.*, p.external_ref AS patient_ref, p.phone_e164, p.full_name,
         (SELECT v.conversation_id FROM elevenlabs_conversations v
           WHERE v.appointment_id = ap.id ORDER BY v.id DESC LIMIT 1) AS last_conversation
    INTO a
    FROM appointments ap JOIN patients p ON p.id = ap.patient_id
   WHERE ap.id = NEW.id;
  IF NOT FOUND THEN RETURN NULL; END IF;  -- deleted later in the same transaction
  PERFORM webhook_emit(
    'appointment.' || NEW.status,
    'appointment:' || NEW.id::text,
    jsonb_strip_nulls(jsonb_build_object(
      'appointmentId', NEW.id, 'externalRef', a.external_ref, 'status', NEW.status,
      'fhirStatus', CASE NEW.status WHEN 'canceled' THEN 'cancelled' ELSE 'booked' END,
      'patientId', a.patient_id, 'patientExternalRef', a.patient_ref,
      'phoneNumber', a.phone_e164, 'patientName', a.full_name,
      'scheduledAt', a.scheduled_at, 'confirmedAt', a.confirmed_at,
      'reschedulePreference', a.reschedule_preference,
      'conversationId', a.last_conversation)));
  RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER appointments_emit_webhook AFTER UPDATE OF status ON appointments
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status
        AND NEW.status IN ('confirmed', 'reschedule_requested', 'canceled'))
  EXECUTE FUNCTION appointments_emit_webhook();

-- patient.opted_out: a number asked not to be called again (a call's outcome, staff, the patient).
CREATE FUNCTION opt_outs_emit_webhook() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  ref text;
  name text;
BEGIN
  SELECT p.external_ref, p.full_name INTO ref, name FROM patients p WHERE p.id = NEW.patient_id;
  PERFORM webhook_emit(
    'patient.opted_out',
    CASE WHEN NEW.patient_id IS NULL THEN 'number:' || md5(NEW.phone_e164)
         ELSE 'patient:' || NEW.patient_id::text END,
    jsonb_strip_nulls(jsonb_build_object(
      'phoneNumber', NEW.phone_e164, 'patientId', NEW.patient_id, 'patientExternalRef', ref,
      'patientName', name, 'source', NEW.source, 'reason', NEW.reason,
      'optedOutAt', NEW.created_at)));
  RETURN NULL;
END
$$;
CREATE TRIGGER opt_outs_emit_webhook AFTER INSERT ON call_opt_outs
  FOR EACH ROW EXECUTE FUNCTION opt_outs_emit_webhook();

-- campaign.completed, campaign.auto_paused, with the recipients' counts by state.
CREATE FUNCTION campaigns_emit_webhook() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM webhook_emit(
    'campaign.' || NEW.state,
    'campaign:' || NEW.campaign_id::text,
    jsonb_strip_nulls(jsonb_build_object(
      'campaignId', NEW.campaign_id, 'name', NEW.name, 'purpose', NEW.purpose,
      'state', NEW.state, 'stateReason', NEW.state_reason,
      'recipients', (SELECT COALESCE(jsonb_object_agg(s.state, s.n), '{}'::jsonb)
                       FROM (SELECT r.state, count(*) AS n FROM campaign_recipients r
                              WHERE r.campaign_id = NEW.id GROUP BY r.state) s))));
  RETURN NULL;
END
$$;
CREATE TRIGGER campaigns_emit_webhook AFTER UPDATE OF state ON campaigns
  FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state
                     AND NEW.state IN ('completed', 'auto_paused'))
  EXECUTE FUNCTION campaigns_emit_webhook();

GRANT SELECT, INSERT, UPDATE ON webhook_subscriptions, webhook_secrets, webhook_events,
  webhook_deliveries, webhook_attempts TO outcall_gateway;
GRANT DELETE ON webhook_secrets TO outcall_gateway;
GRANT USAGE, SELECT ON SEQUENCE webhook_subscriptions_id_seq, webhook_events_id_seq,
  webhook_deliveries_id_seq TO outcall_gateway;
