-- 0003_stats_rollups: daily rollups of the calls, kept exact by triggers, so that statistics cost
-- one row per (day, status, agent) and not one per call; the clinic time zone they are cut in;
-- indexes of the error log. Read by the stats service (role outcall_reader).
--
-- Applied as ONE transaction by the migration runner (no BEGIN/COMMIT here). Never edit this file
-- once released: add a new numbered file instead.
--
-- Two levels: call_daily_rollups (day, status, agent) and call_monthly_rollups (month, status,
-- agent), the second always the sum of the first.
--
-- How the rollups stay exact:
--   * Statement-level AFTER triggers on elevenlabs_conversations (INSERT, UPDATE, DELETE, with
--     transition tables; TRUNCATE) fold the statement's changes into per-group deltas and apply
--     them with ONE INSERT ... ON CONFLICT DO UPDATE, in the same transaction as the change. A
--     rolled-back change leaves no trace; a committed one is visible together with its rollup.
--   * The groups of one statement are upserted in key order, so two single-statement writers never
--     deadlock on rollup rows. A writer holds the rollup rows it touched until it commits: writers
--     of the same (day, status, agent) serialise on that row for the rest of their transaction.
--     Keep write transactions short (never across an HTTP call). See docs/stats.md.
--   * A group whose counters all return to zero (e.g. yesterday's "queued" once every call moved
--     on) is deleted, so reads only see groups that hold calls.
--   * The rollups are derived data: nothing here ever refuses a write to the call table because of
--     them. stats_verify_rollups() lists any drift, stats_rebuild_rollups() recomputes them.
--
-- Which day a call belongs to: its created_at, as a calendar date in the clinic time zone stored in
-- stats_settings (America/Bogota unless changed). The stats service compares that zone with its
-- CLINIC_TIMEZONE and reads the rollups only when they agree (otherwise it scans the raw table).

-- ---------------------------------------------------------------------------------------------
-- The clinic time zone of the rollups

CREATE TABLE stats_settings (
  singleton       boolean PRIMARY KEY DEFAULT true,
  clinic_timezone text NOT NULL DEFAULT 'America/Bogota',
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT stats_settings_singleton_check CHECK (singleton)
);
COMMENT ON TABLE stats_settings IS
  'Exactly one row. clinic_timezone (IANA name) decides which calendar day a call counts on in call_daily_rollups. Changing it (UPDATE stats_settings SET clinic_timezone = ...) rebuilds the rollups in the same transaction; do it while call writers are quiet.';
INSERT INTO stats_settings DEFAULT VALUES;

-- The zone the rollups are cut in. STABLE: read once per statement.
CREATE FUNCTION stats_clinic_timezone() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT clinic_timezone FROM public.stats_settings WHERE singleton
$$;
COMMENT ON FUNCTION stats_clinic_timezone() IS
  'The IANA time zone of call_daily_rollups.day (stats_settings.clinic_timezone).';

CREATE FUNCTION stats_settings_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'stats_settings must keep its one row: update it instead'
      USING ERRCODE = 'restrict_violation', TABLE = TG_TABLE_NAME;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_timezone_names WHERE name = NEW.clinic_timezone) THEN
    RAISE EXCEPTION 'unknown time zone "%": use an IANA name such as America/Bogota', NEW.clinic_timezone
      USING ERRCODE = 'invalid_parameter_value', TABLE = TG_TABLE_NAME, COLUMN = 'clinic_timezone';
  END IF;
  NEW.updated_at := now();
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION stats_settings_guard() IS
  'Trigger: stats_settings keeps its single row and only IANA zone names known to the server.';
CREATE TRIGGER stats_settings_guard BEFORE INSERT OR UPDATE OR DELETE ON stats_settings
  FOR EACH ROW EXECUTE FUNCTION stats_settings_guard();

-- ---------------------------------------------------------------------------------------------
-- The rollups: per day, and per month (a year of statistics reads about 12 monthly groups per
-- (status, agent) plus the days of the partial months at its ends, instead of 365 daily ones).

CREATE TABLE call_daily_rollups (
  day            date NOT NULL,
  status         text NOT NULL,
  agent_id       text NOT NULL,
  calls          bigint NOT NULL,
  duration_calls bigint NOT NULL,
  duration_sum   bigint NOT NULL,
  cost_sum       numeric NOT NULL,
  CONSTRAINT call_daily_rollups_pkey PRIMARY KEY (day, status, agent_id)
) WITH (fillfactor = 80);  -- room for HOT updates of today's counters
COMMENT ON TABLE call_daily_rollups IS
  'Calls per clinic-time-zone day (of created_at), status and agent, maintained exactly by the triggers on elevenlabs_conversations in the same transaction as each change. Statistics read these rows (and call_monthly_rollups) instead of the calls.';
COMMENT ON COLUMN call_daily_rollups.day IS 'Calendar day of created_at in stats_clinic_timezone().';
COMMENT ON COLUMN call_daily_rollups.calls IS 'Number of calls in the group.';
COMMENT ON COLUMN call_daily_rollups.duration_calls IS 'Calls of the group with a duration (the divisor of an average duration).';
COMMENT ON COLUMN call_daily_rollups.duration_sum IS 'Sum of duration_secs of the group.';
COMMENT ON COLUMN call_daily_rollups.cost_sum IS 'Exact sum of cost of the group (NULL costs count as 0).';

CREATE TABLE call_monthly_rollups (
  month          date NOT NULL,
  status         text NOT NULL,
  agent_id       text NOT NULL,
  calls          bigint NOT NULL,
  duration_calls bigint NOT NULL,
  duration_sum   bigint NOT NULL,
  cost_sum       numeric NOT NULL,
  CONSTRAINT call_monthly_rollups_pkey PRIMARY KEY (month, status, agent_id),
  CONSTRAINT call_monthly_rollups_month_check CHECK (month = date_trunc('month', month)::date)
) WITH (fillfactor = 80);
COMMENT ON TABLE call_monthly_rollups IS
  'call_daily_rollups summed per calendar month (month = its first day), maintained by the same triggers in the same transaction. Always equal to the sum of the month''s daily rows.';

-- Folds the statement's changed rows (transition tables) into per-(day, status, agent) deltas,
-- then applies them to the daily and the monthly rollups with one INSERT ... ON CONFLICT DO
-- UPDATE each, in key order (daily first, then monthly: one lock order for every writer).
-- Groups whose counters all return to zero are deleted. Shared by the three triggers (TG_OP).
CREATE FUNCTION call_daily_rollups_apply() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
  tz text := public.stats_clinic_timezone();
  d_day date[];
  d_status text[];
  d_agent text[];
  d_calls bigint[];
  d_duration_calls bigint[];
  d_duration_sum bigint[];
  d_cost numeric[];
  shrinks boolean;
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(day ORDER BY day, status, agent_id), array_agg(status ORDER BY day, status, agent_id),
           array_agg(agent_id ORDER BY day, status, agent_id), array_agg(calls ORDER BY day, status, agent_id),
           array_agg(duration_calls ORDER BY day, status, agent_id),
           array_agg(duration_sum ORDER BY day, status, agent_id), array_agg(cost_sum ORDER BY day, status, agent_id),
           false
    INTO d_day, d_status, d_agent, d_calls, d_duration_calls, d_duration_sum, d_cost, shrinks
    FROM (SELECT (n.created_at AT TIME ZONE tz)::date AS day, n.status, n.agent_id,
                 count(*) AS calls, count(n.duration_secs) AS duration_calls,
                 COALESCE(sum(n.duration_secs), 0) AS duration_sum, COALESCE(sum(n.cost), 0) AS cost_sum
          FROM new_rows n GROUP BY 1, 2, 3) g;
  ELSIF TG_OP = 'UPDATE' THEN
    SELECT array_agg(day ORDER BY day, status, agent_id), array_agg(status ORDER BY day, status, agent_id),
           array_agg(agent_id ORDER BY day, status, agent_id), array_agg(calls ORDER BY day, status, agent_id),
           array_agg(duration_calls ORDER BY day, status, agent_id),
           array_agg(duration_sum ORDER BY day, status, agent_id), array_agg(cost_sum ORDER BY day, status, agent_id),
           bool_or(calls < 0 OR duration_calls < 0 OR duration_sum < 0 OR cost_sum < 0)
    INTO d_day, d_status, d_agent, d_calls, d_duration_calls, d_duration_sum, d_cost, shrinks
    FROM (SELECT day, status, agent_id, sum(sign) AS calls,
                 sum(CASE WHEN duration_secs IS NULL THEN 0 ELSE sign END) AS duration_calls,
                 COALESCE(sum(sign * duration_secs::bigint), 0) AS duration_sum,
                 COALESCE(sum(sign * cost), 0) AS cost_sum
          FROM (SELECT (o.created_at AT TIME ZONE tz)::date AS day, o.status, o.agent_id, -1 AS sign,
                       o.duration_secs, o.cost
                FROM old_rows o
                UNION ALL
                SELECT (n.created_at AT TIME ZONE tz)::date, n.status, n.agent_id, 1, n.duration_secs, n.cost
                FROM new_rows n) c
          GROUP BY day, status, agent_id) g
    WHERE calls <> 0 OR duration_calls <> 0 OR duration_sum <> 0 OR cost_sum <> 0;
  ELSE  -- DELETE
    SELECT array_agg(day ORDER BY day, status, agent_id), array_agg(status ORDER BY day, status, agent_id),
           array_agg(agent_id ORDER BY day, status, agent_id), array_agg(calls ORDER BY day, status, agent_id),
           array_agg(duration_calls ORDER BY day, status, agent_id),
           array_agg(duration_sum ORDER BY day, status, agent_id), array_agg(cost_sum ORDER BY day, status, agent_id),
           true
    INTO d_day, d_status, d_agent, d_calls, d_duration_calls, d_duration_sum, d_cost, shrinks
    FROM (SELECT (o.created_at AT TIME ZONE tz)::date AS day, o.status, o.agent_id,
                 -count(*) AS calls, -count(o.duration_secs) AS duration_calls,
                 -COALESCE(sum(o.duration_secs), 0) AS duration_sum, -COALESCE(sum(o.cost), 0) AS cost_sum
          FROM old_rows o GROUP BY 1, 2, 3) g;
  END IF;

  IF d_day IS NULL THEN
    RETURN NULL;  -- nothing the rollups count changed
  END IF;

  INSERT INTO public.call_daily_rollups AS r
    (day, status, agent_id, calls, duration_calls, duration_sum, cost_sum)
  SELECT * FROM unnest(d_day, d_status, d_agent, d_calls, d_duration_calls, d_duration_sum, d_cost)
  ORDER BY 1, 2, 3
  ON CONFLICT (day, status, agent_id) DO UPDATE
    SET calls = r.calls + EXCLUDED.calls,
        duration_calls = r.duration_calls + EXCLUDED.duration_calls,
        duration_sum = r.duration_sum + EXCLUDED.duration_sum,
        cost_sum = r.cost_sum + EXCLUDED.cost_sum;

  INSERT INTO public.call_monthly_rollups AS r
    (month, status, agent_id, calls, duration_calls, duration_sum, cost_sum)
  SELECT date_trunc('month', day)::date, status, agent_id, sum(calls), sum(duration_calls),
         sum(duration_sum), sum(cost_sum)
  FROM unnest(d_day, d_status, d_agent, d_calls, d_duration_calls, d_duration_sum, d_cost)
         AS u(day, status, agent_id, calls, duration_calls, duration_sum, cost_sum)
  GROUP BY 1, 2, 3
  ORDER BY 1, 2, 3
  ON CONFLICT (month, status, agent_id) DO UPDATE
    SET calls = r.calls + EXCLUDED.calls,
        duration_calls = r.duration_calls + EXCLUDED.duration_calls,
        duration_sum = r.duration_sum + EXCLUDED.duration_sum,
        cost_sum = r.cost_sum + EXCLUDED.cost_sum;

  IF shrinks THEN
    -- Groups emptied by this statement. This transaction holds their rows (it just updated
    -- them), so nobody can have added to them meanwhile.
    DELETE FROM public.call_daily_rollups r
    USING unnest(d_day, d_status, d_agent) AS z(day, status, agent_id)
    WHERE r.day = z.day AND r.status = z.status AND r.agent_id = z.agent_id
      AND r.calls = 0 AND r.duration_calls = 0 AND r.duration_sum = 0 AND r.cost_sum = 0;
    DELETE FROM public.call_monthly_rollups r
    USING (SELECT DISTINCT date_trunc('month', day)::date AS month, status, agent_id
           FROM unnest(d_day, d_status, d_agent) AS u(day, status, agent_id)) z
    WHERE r.month = z.month AND r.status = z.status AND r.agent_id = z.agent_id
      AND r.calls = 0 AND r.duration_calls = 0 AND r.duration_sum = 0 AND r.cost_sum = 0;
  END IF;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION call_daily_rollups_apply() IS
  'Statement trigger on elevenlabs_conversations: folds the inserted/updated/deleted rows (transition tables) into per-group deltas and upserts them into call_daily_rollups and call_monthly_rollups in key order; deletes groups that become empty. SECURITY DEFINER: writers need no privilege on the rollups.';

CREATE FUNCTION call_daily_rollups_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
  DELETE FROM public.call_daily_rollups;
  DELETE FROM public.call_monthly_rollups;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION call_daily_rollups_truncate() IS
  'Statement trigger: TRUNCATE of elevenlabs_conversations empties the rollups too.';

REVOKE EXECUTE ON FUNCTION call_daily_rollups_apply() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION call_daily_rollups_truncate() FROM PUBLIC;

-- Recomputes every rollup from the calls (set-based). Blocks writers of the call table while it
-- runs (SHARE lock), readers go on. Call it in a transaction of its own: after a bulk load done
-- with the triggers disabled, or to repair drift reported by stats_verify_rollups().
CREATE FUNCTION stats_rebuild_rollups() RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
  tz text := public.stats_clinic_timezone();
  n bigint;
BEGIN
  LOCK TABLE public.elevenlabs_conversations IN SHARE MODE;
  LOCK TABLE public.call_daily_rollups, public.call_monthly_rollups IN EXCLUSIVE MODE;
  DELETE FROM public.call_daily_rollups;
  DELETE FROM public.call_monthly_rollups;
  INSERT INTO public.call_daily_rollups
    (day, status, agent_id, calls, duration_calls, duration_sum, cost_sum)
  SELECT (c.created_at AT TIME ZONE tz)::date, c.status, c.agent_id,
         count(*), count(c.duration_secs), COALESCE(sum(c.duration_secs), 0), COALESCE(sum(c.cost), 0)
  FROM public.elevenlabs_conversations c
  GROUP BY 1, 2, 3;
  GET DIAGNOSTICS n = ROW_COUNT;
  INSERT INTO public.call_monthly_rollups
    (month, status, agent_id, calls, duration_calls, duration_sum, cost_sum)
  SELECT date_trunc('month', d.day)::date, d.status, d.agent_id, sum(d.calls), sum(d.duration_calls),
         sum(d.duration_sum), sum(d.cost_sum)
  FROM public.call_daily_rollups d
  GROUP BY 1, 2, 3;
  RETURN n;
END
$$;
COMMENT ON FUNCTION stats_rebuild_rollups() IS
  'Recomputes call_daily_rollups and call_monthly_rollups from elevenlabs_conversations (blocks call writers meanwhile); returns the number of daily groups. Owner only.';
REVOKE EXECUTE ON FUNCTION stats_rebuild_rollups() FROM PUBLIC;

-- The groups where the rollups disagree with a direct aggregate of the calls, per day (level
-- 'day') and per month (level 'month', day = the month's first day).
-- Empty when healthy. A full scan of the call table: for tests, benchmarks and operators, not for
-- request paths.
CREATE FUNCTION stats_verify_rollups()
RETURNS TABLE (level text, day date, status text, agent_id text,
               raw_calls bigint, rollup_calls bigint,
               raw_duration_calls bigint, rollup_duration_calls bigint,
               raw_duration_sum bigint, rollup_duration_sum bigint,
               raw_cost_sum numeric, rollup_cost_sum numeric)
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
  WITH raw AS (
    SELECT (c.created_at AT TIME ZONE public.stats_clinic_timezone())::date AS day, c.status, c.agent_id,
           count(*) AS calls, count(c.duration_secs) AS duration_calls,
           COALESCE(sum(c.duration_secs), 0) AS duration_sum, COALESCE(sum(c.cost), 0) AS cost_sum
    FROM public.elevenlabs_conversations c
    GROUP BY 1, 2, 3
  ), raw_month AS (
    SELECT date_trunc('month', raw.day)::date AS month, raw.status, raw.agent_id,
           sum(raw.calls)::bigint AS calls, sum(raw.duration_calls)::bigint AS duration_calls,
           sum(raw.duration_sum)::bigint AS duration_sum, sum(raw.cost_sum) AS cost_sum
    FROM raw GROUP BY 1, 2, 3
  )
  SELECT 'day', COALESCE(raw.day, r.day), COALESCE(raw.status, r.status), COALESCE(raw.agent_id, r.agent_id),
         COALESCE(raw.calls, 0), COALESCE(r.calls, 0),
         COALESCE(raw.duration_calls, 0), COALESCE(r.duration_calls, 0),
         COALESCE(raw.duration_sum, 0), COALESCE(r.duration_sum, 0),
         COALESCE(raw.cost_sum, 0), COALESCE(r.cost_sum, 0)
  FROM raw
  FULL JOIN public.call_daily_rollups r
    ON r.day = raw.day AND r.status = raw.status AND r.agent_id = raw.agent_id
  WHERE COALESCE(raw.calls, 0) <> COALESCE(r.calls, 0)
     OR COALESCE(raw.duration_calls, 0) <> COALESCE(r.duration_calls, 0)
     OR COALESCE(raw.duration_sum, 0) <> COALESCE(r.duration_sum, 0)
     OR COALESCE(raw.cost_sum, 0) <> COALESCE(r.cost_sum, 0)
  UNION ALL
  SELECT 'month', COALESCE(raw_month.month, m.month), COALESCE(raw_month.status, m.status),
         COALESCE(raw_month.agent_id, m.agent_id),
         COALESCE(raw_month.calls, 0), COALESCE(m.calls, 0),
         COALESCE(raw_month.duration_calls, 0), COALESCE(m.duration_calls, 0),
         COALESCE(raw_month.duration_sum, 0), COALESCE(m.duration_sum, 0),
         COALESCE(raw_month.cost_sum, 0), COALESCE(m.cost_sum, 0)
  FROM raw_month
  FULL JOIN public.call_monthly_rollups m
    ON m.month = raw_month.month AND m.status = raw_month.status AND m.agent_id = raw_month.agent_id
  WHERE COALESCE(raw_month.calls, 0) <> COALESCE(m.calls, 0)
     OR COALESCE(raw_month.duration_calls, 0) <> COALESCE(m.duration_calls, 0)
     OR COALESCE(raw_month.duration_sum, 0) <> COALESCE(m.duration_sum, 0)
     OR COALESCE(raw_month.cost_sum, 0) <> COALESCE(m.cost_sum, 0)
  ORDER BY 1, 2, 3, 4
$$;
COMMENT ON FUNCTION stats_verify_rollups() IS
  'Groups where call_daily_rollups (level day) or call_monthly_rollups (level month) differ from a direct aggregate of elevenlabs_conversations; empty when the rollups are exact. Full scan.';

-- A new clinic time zone moves calls between days: rebuild in the same transaction.
CREATE FUNCTION stats_settings_rebuild() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM public.stats_rebuild_rollups();
  RETURN NULL;
END
$$;
CREATE TRIGGER stats_settings_rebuild AFTER UPDATE OF clinic_timezone ON stats_settings
  FOR EACH ROW WHEN (OLD.clinic_timezone IS DISTINCT FROM NEW.clinic_timezone)
  EXECUTE FUNCTION stats_settings_rebuild();

-- Writers wait here until the backfill below is committed together with the triggers.
LOCK TABLE elevenlabs_conversations IN SHARE ROW EXCLUSIVE MODE;

CREATE TRIGGER call_daily_rollups_insert AFTER INSERT ON elevenlabs_conversations
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION call_daily_rollups_apply();
CREATE TRIGGER call_daily_rollups_update AFTER UPDATE ON elevenlabs_conversations
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION call_daily_rollups_apply();
CREATE TRIGGER call_daily_rollups_delete AFTER DELETE ON elevenlabs_conversations
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION call_daily_rollups_apply();
CREATE TRIGGER call_daily_rollups_truncate AFTER TRUNCATE ON elevenlabs_conversations
  FOR EACH STATEMENT EXECUTE FUNCTION call_daily_rollups_truncate();

-- Backfill the calls recorded before this migration.
SELECT stats_rebuild_rollups();

-- ---------------------------------------------------------------------------------------------
-- Error log filters (ListCallErrors): by source and by conversation, newest first.

CREATE INDEX elevenlabs_call_errors_source_created_at_idx
  ON elevenlabs_call_errors (source, created_at DESC, id DESC);
CREATE INDEX elevenlabs_call_errors_conversation_id_created_at_idx
  ON elevenlabs_call_errors (conversation_id, created_at DESC, id DESC)
  WHERE conversation_id IS NOT NULL;

-- ---------------------------------------------------------------------------------------------
-- Privileges: stats reads (0002's default privileges already cover new tables; explicit here).
-- Writers of elevenlabs_conversations need nothing on the rollups (the trigger is SECURITY DEFINER).

GRANT SELECT ON call_daily_rollups, call_monthly_rollups, stats_settings TO outcall_reader;
