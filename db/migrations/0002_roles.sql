-- 0002_roles: group roles of the services and their privileges.
--
-- The roles are NOLOGIN groups. Deployments create one LOGIN role per service and make it a member,
-- e.g.  CREATE ROLE call_gateway LOGIN PASSWORD '...' IN ROLE outcall_gateway;
-- Roles are cluster-wide, so they are created only when missing (several databases of one cluster,
-- e.g. dev and test, share them). Needs a superuser or a role with CREATEROLE (the migration role).
-- Objects belong to the migration role; nothing here is granted WITH GRANT OPTION.

DO $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['outcall_gateway', 'outcall_ingest', 'outcall_reader'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('CREATE ROLE %I NOLOGIN', r);
    END IF;
  END LOOP;
END
$$;

COMMENT ON ROLE outcall_gateway IS
  'call-gateway: reads and writes the call tables, opt-outs, idempotency keys and unmatched events; reads patients, appointments and the webhook inbox; updates appointment status.';
COMMENT ON ROLE outcall_ingest IS
  'webhook-ingest: writes the webhook inbox and call audio only.';
COMMENT ON ROLE outcall_reader IS
  'stats and read-only tooling: SELECT on every table and view.';

GRANT USAGE ON SCHEMA public TO outcall_gateway, outcall_ingest, outcall_reader;

-- call-gateway -------------------------------------------------------------------------------
GRANT SELECT, INSERT, UPDATE, DELETE ON
  elevenlabs_conversations,
  elevenlabs_transcriptions,
  elevenlabs_analysis,
  elevenlabs_audio,
  elevenlabs_call_errors,
  call_opt_outs,
  idempotency_keys,
  unmatched_call_events
TO outcall_gateway;
GRANT SELECT ON patients, appointments, webhook_inbox, elevenlabs_recent_calls TO outcall_gateway;
GRANT UPDATE (status, confirmed_at) ON appointments TO outcall_gateway;

-- webhook-ingest -----------------------------------------------------------------------------
GRANT SELECT, INSERT, UPDATE ON webhook_inbox, elevenlabs_audio TO outcall_ingest;

-- stats / read-only --------------------------------------------------------------------------
GRANT SELECT ON ALL TABLES IN SCHEMA public TO outcall_reader;   -- tables and views
-- Tables and views created later by the migration role (the role running this file) stay readable.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO outcall_reader;

-- Identity sequences of the tables each role may INSERT into. (Identity columns do not strictly
-- need it, but explicit grants keep nextval()/currval() usable and the intent visible.)
DO $$
DECLARE
  g record;
  seq text;
BEGIN
  FOR g IN
    SELECT * FROM (VALUES
      ('outcall_gateway', 'elevenlabs_conversations', 'id'),
      ('outcall_gateway', 'elevenlabs_transcriptions', 'id'),
      ('outcall_gateway', 'elevenlabs_call_errors', 'id'),
      ('outcall_gateway', 'unmatched_call_events', 'id'),
      ('outcall_ingest', 'webhook_inbox', 'id')
    ) AS t(role_name, table_name, column_name)
  LOOP
    seq := pg_get_serial_sequence(quote_ident(g.table_name), g.column_name);
    IF seq IS NULL THEN
      RAISE EXCEPTION 'no identity sequence for %.%', g.table_name, g.column_name;
    END IF;
    EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %s TO %I', seq, g.role_name);
  END LOOP;
END
$$;
