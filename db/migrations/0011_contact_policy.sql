-- 0011_contact_policy: Colombian contact policy, consent and the contact ledger (issue 15).
--
-- call-gateway decides, immediately before every dial, whether the law and the patient allow the
-- call (libs/policy: Ley 2300 de 2023 hours and frequency, Ley 1581 de 2012 consent, the Registro
-- de Números Excluidos), and stores the decision with the attempt. What the decision reads lives
-- here:
--   contact_policy_profiles   versioned profile documents (JSON, docs/policy.md); a version is
--                             never changed, a change is a new version
--   contact_policy_settings   which profile version is in force
--   patients.time_zone        the patient's IANA zone (NULL: the clinic's, stats_settings)
--   contact_records           contacts made on other channels (SMS, WhatsApp, e-mail) by the
--                             clinic's own systems, recorded through the API
--   contact_ledger (view)     every contact: our calls (voice) and contact_records, one shape,
--                             so caps hold across ad-hoc calls, campaigns and channels
--   patient_consents          the consent ledger: authorisations and revocations per purpose and
--                             channel with their evidence; append-only
--   excluded_number_lists,    the RNE downloads loaded and the numbers they list per channel
--   excluded_numbers
--   policy_decisions          every decision taken for a dial, allowed or refused, with the
--                             profile version and the inputs (record), and the override reason

-- ---------------------------------------------------------------------------------------------
-- Names shared by the tables (libs/policy's PurposeName / ChannelName)

CREATE FUNCTION contact_purpose_is_known(p text) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN p IN ('confirmation', 'reminder', 'survey', 'promotion', 'collection');
CREATE FUNCTION contact_channel_is_known(c text) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN c IN ('voice', 'sms', 'whatsapp', 'email');

-- ---------------------------------------------------------------------------------------------
-- Profiles

CREATE TABLE contact_policy_profiles (
  profile_id  text NOT NULL,
  version     integer NOT NULL,
  document    text NOT NULL,  -- the JSON exactly as given (parsed and validated by call-gateway)
  created_at  timestamptz NOT NULL DEFAULT now(),
  created_by  text NOT NULL,
  PRIMARY KEY (profile_id, version),
  CONSTRAINT contact_policy_profiles_version_check CHECK (version > 0),
  CONSTRAINT contact_policy_profiles_document_check CHECK (btrim(document) <> '')
);
COMMENT ON TABLE contact_policy_profiles IS
  'Contact-policy profile documents (docs/policy.md). A (profile_id, version) never changes: decisions name the version they applied. call-gateway inserts its built-in default (co_ley2300_v1) at start-up when missing.';

CREATE FUNCTION contact_policy_profiles_immutable() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'contact_policy_profiles: % % is a released version and cannot change; add a new version',
    OLD.profile_id, OLD.version USING ERRCODE = 'check_violation';
END
$$;
CREATE TRIGGER contact_policy_profiles_immutable BEFORE UPDATE ON contact_policy_profiles
  FOR EACH ROW EXECUTE FUNCTION contact_policy_profiles_immutable();

-- The version in force. No row: the built-in default (co_ley2300_v1, its highest version).
CREATE TABLE contact_policy_settings (
  singleton   boolean PRIMARY KEY DEFAULT true,
  profile_id  text NOT NULL,
  version     integer NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  updated_by  text NOT NULL,
  CONSTRAINT contact_policy_settings_singleton_check CHECK (singleton),
  CONSTRAINT contact_policy_settings_profile_fkey FOREIGN KEY (profile_id, version)
    REFERENCES contact_policy_profiles (profile_id, version)
);

-- ---------------------------------------------------------------------------------------------
-- The patient's zone and the purpose of each call

ALTER TABLE patients ADD COLUMN time_zone text;
-- The shape of an IANA name; call-gateway checks the name against the time-zone database and
-- refuses a call to a patient whose zone it does not know (never guesses a zone).
ALTER TABLE patients ADD CONSTRAINT patients_time_zone_check
  CHECK (time_zone ~ '^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$');

ALTER TABLE elevenlabs_conversations ADD COLUMN contact_purpose text NOT NULL DEFAULT 'confirmation';
ALTER TABLE elevenlabs_conversations ADD CONSTRAINT elevenlabs_conversations_contact_purpose_check
  CHECK (contact_purpose_is_known(contact_purpose));
-- The ledger's lookups by number (a call to a number without a patient row still counts).
CREATE INDEX elevenlabs_conversations_phone_number_created_at_idx
  ON elevenlabs_conversations (phone_number, created_at DESC);

-- ---------------------------------------------------------------------------------------------
-- Contacts on other channels, and the ledger

CREATE TABLE contact_records (
  id           bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  patient_id   integer,
  phone_e164   text,
  channel      text NOT NULL,
  purpose      text NOT NULL,
  at           timestamptz NOT NULL,
  answered     boolean NOT NULL DEFAULT false,  -- a "contacto directo" (read, replied, answered)
  outcome      text,
  source       text NOT NULL,      -- the system that made the contact
  external_ref text,               -- its id for the contact: recording it twice is a no-op
  recorded_by  text NOT NULL,      -- the principal that recorded it
  recorded_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT contact_records_patient_id_fkey FOREIGN KEY (patient_id)
    REFERENCES patients (id) ON DELETE CASCADE,
  CONSTRAINT contact_records_who_check CHECK (patient_id IS NOT NULL OR phone_e164 IS NOT NULL),
  CONSTRAINT contact_records_phone_e164_check CHECK (phone_e164 ~ '^\+[1-9][0-9]{6,14}$'),
  CONSTRAINT contact_records_channel_check CHECK (contact_channel_is_known(channel)),
  CONSTRAINT contact_records_purpose_check CHECK (contact_purpose_is_known(purpose)),
  CONSTRAINT contact_records_source_check CHECK (btrim(source) <> ''),
  CONSTRAINT contact_records_external_ref_key UNIQUE (source, external_ref)
);
CREATE INDEX contact_records_patient_id_at_idx ON contact_records (patient_id, at DESC)
  WHERE patient_id IS NOT NULL;
CREATE INDEX contact_records_phone_e164_at_idx ON contact_records (phone_e164, at DESC)
  WHERE phone_e164 IS NOT NULL;

-- One shape for every contact. A call counts from its dial (or, never dialled, its creation); it
-- is answered when it completed with talk time; a call still live may yet be answered (live).
CREATE VIEW contact_ledger AS
  SELECT 'call'::text AS kind, c.id AS ref, c.patient_id, c.phone_number AS phone_e164,
         'voice'::text AS channel, c.contact_purpose AS purpose,
         COALESCE(c.dial_attempted_at, c.created_at) AS at, c.status AS outcome,
         (c.status = 'completed' AND COALESCE(c.duration_secs, 0) > 0) AS answered,
         NOT call_status_is_final(c.status) AS live
    FROM elevenlabs_conversations c
  UNION ALL
  SELECT 'record', r.id, r.patient_id, r.phone_e164, r.channel, r.purpose, r.at,
         r.outcome, r.answered, false
    FROM contact_records r;
COMMENT ON VIEW contact_ledger IS
  'Every contact with a patient or number: calls placed by outcall (voice) and contacts recorded from other systems (contact_records). The frequency rules of the contact policy read it.';

-- ---------------------------------------------------------------------------------------------
-- Consent (Ley 1581: health data is sensitive and needs explicit, provable authorisation)

CREATE TABLE patient_consents (
  id            bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  patient_id    integer NOT NULL,
  purpose       text NOT NULL,
  channel       text NOT NULL,
  state         text NOT NULL,        -- authorised | revoked
  source        text NOT NULL,        -- form, call_recording, web, call_outcome, ...
  text_version  text,                 -- the version of the authorisation text the patient saw
  evidence_ref  text,                 -- where the proof is (document id, recording, message)
  recorded_at   timestamptz NOT NULL, -- when the patient gave or revoked it
  recorded_by   text NOT NULL,        -- the principal that recorded it
  created_at    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT patient_consents_patient_id_fkey FOREIGN KEY (patient_id)
    REFERENCES patients (id) ON DELETE CASCADE,
  CONSTRAINT patient_consents_purpose_check CHECK (contact_purpose_is_known(purpose)),
  CONSTRAINT patient_consents_channel_check CHECK (contact_channel_is_known(channel)),
  CONSTRAINT patient_consents_state_check CHECK (state IN ('authorised', 'revoked')),
  CONSTRAINT patient_consents_source_check CHECK (btrim(source) <> ''),
  CONSTRAINT patient_consents_evidence_check
    CHECK (state = 'revoked' OR (text_version IS NOT NULL AND evidence_ref IS NOT NULL))
);
COMMENT ON TABLE patient_consents IS
  'Consent ledger, append-only: each authorisation (with its evidence) and revocation per patient, purpose and channel. The latest record up to an instant is the state at that instant.';
CREATE INDEX patient_consents_patient_id_idx ON patient_consents (patient_id, recorded_at);

-- ---------------------------------------------------------------------------------------------
-- Registro de Números Excluidos (CRC): the downloads loaded and the numbers they list

CREATE TABLE excluded_number_lists (
  list_version text PRIMARY KEY,      -- e.g. the download's date, "2026-11-30"
  loaded_at    timestamptz NOT NULL DEFAULT now(),
  entries      integer NOT NULL,
  CONSTRAINT excluded_number_lists_entries_check CHECK (entries >= 0)
);
CREATE TABLE excluded_numbers (
  phone_e164   text NOT NULL,
  channel      text NOT NULL,
  list_version text NOT NULL,
  PRIMARY KEY (phone_e164, channel),
  CONSTRAINT excluded_numbers_phone_e164_check CHECK (phone_e164 ~ '^\+[1-9][0-9]{6,14}$'),
  CONSTRAINT excluded_numbers_channel_check CHECK (contact_channel_is_known(channel)),
  CONSTRAINT excluded_numbers_list_version_fkey FOREIGN KEY (list_version)
    REFERENCES excluded_number_lists (list_version) ON DELETE CASCADE
);

-- ---------------------------------------------------------------------------------------------
-- Decisions

CREATE TABLE policy_decisions (
  id               bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  call_row_id      bigint,            -- the call placed (NULL: refused, nothing was placed)
  patient_id       integer,
  purpose          text NOT NULL,
  channel          text NOT NULL,
  decided_at       timestamptz NOT NULL,
  allowed          boolean NOT NULL,
  rule             text,              -- the rule that refused (or that an override passed)
  profile_id       text NOT NULL,
  profile_version  integer NOT NULL,
  override_reason  text,              -- a refusal passed by a caller with policy:override
  decided_for      text NOT NULL,     -- the principal the dial was for
  record           jsonb NOT NULL,    -- the inputs and the outcome (libs/policy Decision)
  CONSTRAINT policy_decisions_call_row_id_fkey FOREIGN KEY (call_row_id)
    REFERENCES elevenlabs_conversations (id) ON DELETE CASCADE,
  CONSTRAINT policy_decisions_patient_id_fkey FOREIGN KEY (patient_id)
    REFERENCES patients (id) ON DELETE SET NULL,
  CONSTRAINT policy_decisions_purpose_check CHECK (contact_purpose_is_known(purpose)),
  CONSTRAINT policy_decisions_channel_check CHECK (contact_channel_is_known(channel)),
  CONSTRAINT policy_decisions_rule_check CHECK (allowed OR rule IS NOT NULL),
  CONSTRAINT policy_decisions_override_check CHECK (override_reason IS NULL OR btrim(override_reason) <> '')
);
COMMENT ON TABLE policy_decisions IS
  'Every contact-policy decision taken for a dial: allowed (call_row_id set) or refused, the rule, the profile version and the inputs. The proof that a call was lawful when it was placed.';
CREATE INDEX policy_decisions_call_row_id_idx ON policy_decisions (call_row_id) WHERE call_row_id IS NOT NULL;
CREATE INDEX policy_decisions_patient_id_idx ON policy_decisions (patient_id, decided_at)
  WHERE patient_id IS NOT NULL;
CREATE INDEX policy_decisions_decided_at_idx ON policy_decisions (decided_at);

-- ---------------------------------------------------------------------------------------------
-- Privileges: call-gateway reads everything the decision needs, appends consents, records and
-- decisions (never changes or deletes one), and inserts the built-in profile.

GRANT SELECT, INSERT ON contact_policy_profiles TO outcall_gateway;
GRANT SELECT ON contact_policy_settings, excluded_number_lists, excluded_numbers TO outcall_gateway;
GRANT SELECT, INSERT ON contact_records, patient_consents, policy_decisions TO outcall_gateway;
GRANT SELECT ON contact_ledger, stats_settings TO outcall_gateway;  -- the clinic's zone
GRANT SELECT ON contact_policy_profiles, contact_policy_settings, contact_records, contact_ledger,
  patient_consents, excluded_number_lists, policy_decisions TO outcall_reader;
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['contact_records', 'patient_consents', 'policy_decisions'] LOOP
    EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %s TO outcall_gateway',
                   pg_get_serial_sequence(t, 'id'));
  END LOOP;
END
$$;
