-- 0022_striped_rollups: every rollup group (day or month, status, agent) is split into 8 stripes
-- by call id (stripe = id % 8), so that concurrent writers of the same group no longer queue on
-- one row until each of them has committed (and waited for its WAL flush).
--
-- Why (measured, docs/rest-bench.md): every placed call inserts a 'dialing' row and moves it to
-- 'initiated', and each of those statements upserted the same (today, status, agent) row of both
-- rollups; that row stays locked until its transaction commits, so InitiateCall's writes ran one
-- at a time: 55-58 % of the active backends' samples waited on Lock:transactionid at 16 and 64
-- connections, and pgbench of InitiateCall's own statements reached 588 calls/s at 16 clients,
-- 1,736 with the triggers disabled.
--
-- Exactness is unchanged: a call's changes always land in the stripe of its own id, in the same
-- transaction, so each stripe row is itself an exact sum of the calls it holds (never negative;
-- a stripe whose counters return to zero is deleted, as groups were). Readers add the stripes up:
-- the stats service already sums rollup rows per status and day. stats_verify_rollups() compares
-- each group's stripes summed with the calls; stats_rebuild_rollups() recomputes the stripes.
-- Writers of different stripes never touch the same row; two calls of the same group share a
-- stripe with a probability of 1 in 8.
--
-- Only today's rows are hot: stats_fold_rollups() folds the stripes of days before yesterday (and
-- of months before the current one) into stripe 0, so that history costs readers one row per
-- group again. call-gateway runs it hourly; stats_rebuild_rollups() writes history folded. A later
-- change to an old call still lands in the stripe of its id (a row that may then hold a negative
-- delta until the next fold): every group's sum stays exact at every moment.

LOCK TABLE elevenlabs_conversations IN SHARE ROW EXCLUSIVE MODE;

ALTER TABLE call_daily_rollups ADD COLUMN stripe smallint NOT NULL DEFAULT 0;
ALTER TABLE call_daily_rollups ADD CONSTRAINT call_daily_rollups_stripe_check CHECK (stripe BETWEEN 0 AND 7);
ALTER TABLE call_daily_rollups DROP CONSTRAINT call_daily_rollups_pkey;
ALTER TABLE call_daily_rollups ADD CONSTRAINT call_daily_rollups_pkey PRIMARY KEY (day, status, agent_id, stripe);
COMMENT ON COLUMN call_daily_rollups.stripe IS
  'id % 8 of the calls counted in this row: a group is the sum of its stripes (migration 0022).';

ALTER TABLE call_monthly_rollups ADD COLUMN stripe smallint NOT NULL DEFAULT 0;
ALTER TABLE call_monthly_rollups ADD CONSTRAINT call_monthly_rollups_stripe_check CHECK (stripe BETWEEN 0 AND 7);
ALTER TABLE call_monthly_rollups DROP CONSTRAINT call_monthly_rollups_pkey;
ALTER TABLE call_monthly_rollups ADD CONSTRAINT call_monthly_rollups_pkey PRIMARY KEY (month, status, agent_id, stripe);
COMMENT ON COLUMN call_monthly_rollups.stripe IS
  'id % 8 of the calls counted in this row: a group is the sum of its stripes (migration 0022).';

-- As 0003's, with the stripe in every key (and in the key order the upserts take their locks in).
CREATE OR REPLACE FUNCTION call_daily_rollups_apply() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
  tz text := public.stats_clinic_timezone();
  d_day date[];
  d_status text[];
  d_agent text[];
  d_stripe smallint[];
  d_calls bigint[];
  d_duration_calls bigint[];
  d_duration_sum bigint[];
  d_cost numeric[];
  shrinks boolean;
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(day ORDER BY day, status, agent_id, stripe), array_agg(status ORDER BY day, status, agent_id, stripe),
           array_agg(agent_id ORDER BY day, status, agent_id, stripe), array_agg(stripe ORDER BY day, status, agent_id, stripe),
           array_agg(calls ORDER BY day, status, agent_id, stripe),
           array_agg(duration_calls ORDER BY day, status, agent_id, stripe),
           array_agg(duration_sum ORDER BY day, status, agent_id, stripe), array_agg(cost_sum ORDER BY day, status, agent_id, stripe),
           false
    INTO d_day, d_status, d_agent, d_stripe, d_calls, d_duration_calls, d_duration_sum, d_cost, shrinks
    FROM (SELECT (n.created_at AT TIME ZONE tz)::date AS day, n.status, n.agent_id, (n.id % 8)::smallint AS stripe,
                 count(*) AS calls, count(n.duration_secs) AS duration_calls,
                 COALESCE(sum(n.duration_secs), 0) AS duration_sum, COALESCE(sum(n.cost), 0) AS cost_sum
          FROM new_rows n GROUP BY 1, 2, 3, 4) g;
  ELSIF TG_OP = 'UPDATE' THEN
    SELECT array_agg(day ORDER BY day, status, agent_id, stripe), array_agg(status ORDER BY day, status, agent_id, stripe),
           array_agg(agent_id ORDER BY day, status, agent_id, stripe), array_agg(stripe ORDER BY day, status, agent_id, stripe),
           array_agg(calls ORDER BY day, status, agent_id, stripe),
           array_agg(duration_calls ORDER BY day, status, agent_id, stripe),
           array_agg(duration_sum ORDER BY day, status, agent_id, stripe), array_agg(cost_sum ORDER BY day, status, agent_id, stripe),
           bool_or(calls < 0 OR duration_calls < 0 OR duration_sum < 0 OR cost_sum < 0)
    INTO d_day, d_status, d_agent, d_stripe, d_calls, d_duration_calls, d_duration_sum, d_cost, shrinks
    FROM (SELECT day, status, agent_id, stripe, sum(sign) AS calls,
                 sum(CASE WHEN duration_secs IS NULL THEN 0 ELSE sign END) AS duration_calls,
                 COALESCE(sum(sign * duration_secs::bigint), 0) AS duration_sum,
                 COALESCE(sum(sign * cost), 0) AS cost_sum
          FROM (SELECT (o.created_at AT TIME ZONE tz)::date AS day, o.status, o.agent_id,
                       (o.id % 8)::smallint AS stripe, -1 AS sign, o.duration_secs, o.cost
                FROM old_rows o
                UNION ALL
                SELECT (n.created_at AT TIME ZONE tz)::date, n.status, n.agent_id, (n.id % 8)::smallint, 1,
                       n.duration_secs, n.cost
                FROM new_rows n) c
          GROUP BY day, status, agent_id, stripe) g
    WHERE calls <> 0 OR duration_calls <> 0 OR duration_sum <> 0 OR cost_sum <> 0;
  ELSE  -- DELETE
    SELECT array_agg(day ORDER BY day, status, agent_id, stripe), array_agg(status ORDER BY day, status, agent_id, stripe),
           array_agg(agent_id ORDER BY day, status, agent_id, stripe), array_agg(stripe ORDER BY day, status, agent_id, stripe),
           array_agg(calls ORDER BY day, status, agent_id, stripe),
           array_agg(duration_calls ORDER BY day, status, agent_id, stripe),
           array_agg(duration_sum ORDER BY day, status, agent_id, stripe), array_agg(cost_sum ORDER BY day, status, agent_id, stripe),
           true
    INTO d_day, d_status, d_agent, d_stripe, d_calls, d_duration_calls, d_duration_sum, d_cost, shrinks
    FROM (SELECT (o.created_at AT TIME ZONE tz)::date AS day, o.status, o.agent_id, (o.id % 8)::smallint AS stripe,
                 -count(*) AS calls, -count(o.duration_secs) AS duration_calls,
                 -COALESCE(sum(o.duration_secs), 0) AS duration_sum, -COALESCE(sum(o.cost), 0) AS cost_sum
          FROM old_rows o GROUP BY 1, 2, 3, 4) g;
  END IF;

  IF d_day IS NULL THEN
    RETURN NULL;  -- nothing the rollups count changed
  END IF;

  INSERT INTO public.call_daily_rollups AS r
    (day, status, agent_id, stripe, calls, duration_calls, duration_sum, cost_sum)
  SELECT * FROM unnest(d_day, d_status, d_agent, d_stripe, d_calls, d_duration_calls, d_duration_sum, d_cost)
  ORDER BY 1, 2, 3, 4
  ON CONFLICT (day, status, agent_id, stripe) DO UPDATE
    SET calls = r.calls + EXCLUDED.calls,
        duration_calls = r.duration_calls + EXCLUDED.duration_calls,
        duration_sum = r.duration_sum + EXCLUDED.duration_sum,
        cost_sum = r.cost_sum + EXCLUDED.cost_sum;

  INSERT INTO public.call_monthly_rollups AS r
    (month, status, agent_id, stripe, calls, duration_calls, duration_sum, cost_sum)
  SELECT date_trunc('month', day)::date, status, agent_id, stripe, sum(calls), sum(duration_calls),
         sum(duration_sum), sum(cost_sum)
  FROM unnest(d_day, d_status, d_agent, d_stripe, d_calls, d_duration_calls, d_duration_sum, d_cost)
         AS u(day, status, agent_id, stripe, calls, duration_calls, duration_sum, cost_sum)
  GROUP BY 1, 2, 3, 4
  ORDER BY 1, 2, 3, 4
  ON CONFLICT (month, status, agent_id, stripe) DO UPDATE
    SET calls = r.calls + EXCLUDED.calls,
        duration_calls = r.duration_calls + EXCLUDED.duration_calls,
        duration_sum = r.duration_sum + EXCLUDED.duration_sum,
        cost_sum = r.cost_sum + EXCLUDED.cost_sum;

  IF shrinks THEN
    -- Stripes emptied by this statement. This transaction holds their rows (it just updated
    -- them), so nobody can have added to them meanwhile.
    DELETE FROM public.call_daily_rollups r
    USING unnest(d_day, d_status, d_agent, d_stripe) AS z(day, status, agent_id, stripe)
    WHERE r.day = z.day AND r.status = z.status AND r.agent_id = z.agent_id AND r.stripe = z.stripe
      AND r.calls = 0 AND r.duration_calls = 0 AND r.duration_sum = 0 AND r.cost_sum = 0;
    DELETE FROM public.call_monthly_rollups r
    USING (SELECT DISTINCT date_trunc('month', day)::date AS month, status, agent_id, stripe
           FROM unnest(d_day, d_status, d_agent, d_stripe) AS u(day, status, agent_id, stripe)) z
    WHERE r.month = z.month AND r.status = z.status AND r.agent_id = z.agent_id AND r.stripe = z.stripe
      AND r.calls = 0 AND r.duration_calls = 0 AND r.duration_sum = 0 AND r.cost_sum = 0;
  END IF;
  RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION call_daily_rollups_apply() FROM PUBLIC;

CREATE OR REPLACE FUNCTION stats_rebuild_rollups() RETURNS bigint
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
    (day, status, agent_id, stripe, calls, duration_calls, duration_sum, cost_sum)
  SELECT (c.created_at AT TIME ZONE tz)::date AS day, c.status, c.agent_id,
         -- History folded (stripe 0), the hot days striped as the triggers stripe them.
         CASE WHEN (c.created_at AT TIME ZONE tz)::date >= (now() AT TIME ZONE tz)::date - 1
              THEN (c.id % 8)::smallint ELSE 0::smallint END,
         count(*), count(c.duration_secs), COALESCE(sum(c.duration_secs), 0), COALESCE(sum(c.cost), 0)
  FROM public.elevenlabs_conversations c
  GROUP BY 1, 2, 3, 4;
  SELECT count(*) INTO n FROM (SELECT DISTINCT day, status, agent_id FROM public.call_daily_rollups) g;
  INSERT INTO public.call_monthly_rollups
    (month, status, agent_id, stripe, calls, duration_calls, duration_sum, cost_sum)
  SELECT date_trunc('month', d.day)::date, d.status, d.agent_id,
         CASE WHEN date_trunc('month', d.day)::date >= date_trunc('month', (now() AT TIME ZONE tz)::date - 1)::date
              THEN d.stripe ELSE 0::smallint END,
         sum(d.calls), sum(d.duration_calls), sum(d.duration_sum), sum(d.cost_sum)
  FROM public.call_daily_rollups d
  GROUP BY 1, 2, 3, 4;
  RETURN n;
END
$$;
REVOKE EXECUTE ON FUNCTION stats_rebuild_rollups() FROM PUBLIC;

-- Folds the stripes of the days before `before` (default: yesterday in the clinic zone) into
-- stripe 0, and those of the months before its month; returns the rows removed. Takes the rollups
-- in EXCLUSIVE mode first (readers go on; writers wait the few milliseconds it takes), so it never
-- deadlocks with a writer. SECURITY DEFINER: call-gateway's role runs it (hourly).
CREATE FUNCTION stats_fold_rollups(before date DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
  tz text := public.stats_clinic_timezone();
  cutoff date := COALESCE(before, (now() AT TIME ZONE public.stats_clinic_timezone())::date - 1);
  month_cutoff date := date_trunc('month', COALESCE(before, (now() AT TIME ZONE public.stats_clinic_timezone())::date - 1))::date;
  n bigint;
  m bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM public.call_daily_rollups WHERE day < cutoff AND stripe <> 0)
     AND NOT EXISTS (SELECT 1 FROM public.call_monthly_rollups WHERE month < month_cutoff AND stripe <> 0) THEN
    RETURN 0;  -- nothing to fold: no lock taken
  END IF;
  LOCK TABLE public.call_daily_rollups, public.call_monthly_rollups IN EXCLUSIVE MODE;
  WITH gone AS (
    DELETE FROM public.call_daily_rollups r WHERE r.day < cutoff AND r.stripe <> 0
    RETURNING r.day, r.status, r.agent_id, r.calls, r.duration_calls, r.duration_sum, r.cost_sum
  )
  INSERT INTO public.call_daily_rollups AS r
    (day, status, agent_id, stripe, calls, duration_calls, duration_sum, cost_sum)
  SELECT day, status, agent_id, 0, sum(calls), sum(duration_calls), sum(duration_sum), sum(cost_sum)
  FROM gone GROUP BY 1, 2, 3
  ON CONFLICT (day, status, agent_id, stripe) DO UPDATE
    SET calls = r.calls + EXCLUDED.calls,
        duration_calls = r.duration_calls + EXCLUDED.duration_calls,
        duration_sum = r.duration_sum + EXCLUDED.duration_sum,
        cost_sum = r.cost_sum + EXCLUDED.cost_sum;
  GET DIAGNOSTICS n = ROW_COUNT;
  DELETE FROM public.call_daily_rollups
  WHERE day < cutoff AND stripe = 0 AND calls = 0 AND duration_calls = 0 AND duration_sum = 0 AND cost_sum = 0;
  WITH gone AS (
    DELETE FROM public.call_monthly_rollups r WHERE r.month < month_cutoff AND r.stripe <> 0
    RETURNING r.month, r.status, r.agent_id, r.calls, r.duration_calls, r.duration_sum, r.cost_sum
  )
  INSERT INTO public.call_monthly_rollups AS r
    (month, status, agent_id, stripe, calls, duration_calls, duration_sum, cost_sum)
  SELECT month, status, agent_id, 0, sum(calls), sum(duration_calls), sum(duration_sum), sum(cost_sum)
  FROM gone GROUP BY 1, 2, 3
  ON CONFLICT (month, status, agent_id, stripe) DO UPDATE
    SET calls = r.calls + EXCLUDED.calls,
        duration_calls = r.duration_calls + EXCLUDED.duration_calls,
        duration_sum = r.duration_sum + EXCLUDED.duration_sum,
        cost_sum = r.cost_sum + EXCLUDED.cost_sum;
  GET DIAGNOSTICS m = ROW_COUNT;
  DELETE FROM public.call_monthly_rollups
  WHERE month < month_cutoff AND stripe = 0 AND calls = 0 AND duration_calls = 0 AND duration_sum = 0 AND cost_sum = 0;
  RETURN n + m;
END
$$;
COMMENT ON FUNCTION stats_fold_rollups(date) IS
  'Folds the rollup stripes of days before `before` (default yesterday, clinic zone) and of the months before its month into stripe 0; groups stay exact. call-gateway runs it hourly.';
REVOKE EXECUTE ON FUNCTION stats_fold_rollups(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stats_fold_rollups(date) TO outcall_gateway;

-- Each group's stripes summed, against a direct aggregate of the calls (same columns as 0003's).
CREATE OR REPLACE FUNCTION stats_verify_rollups()
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
  ), r AS (
    SELECT d.day, d.status, d.agent_id, sum(d.calls)::bigint AS calls,
           sum(d.duration_calls)::bigint AS duration_calls, sum(d.duration_sum)::bigint AS duration_sum,
           sum(d.cost_sum) AS cost_sum
    FROM public.call_daily_rollups d GROUP BY 1, 2, 3
  ), m AS (
    SELECT x.month, x.status, x.agent_id, sum(x.calls)::bigint AS calls,
           sum(x.duration_calls)::bigint AS duration_calls, sum(x.duration_sum)::bigint AS duration_sum,
           sum(x.cost_sum) AS cost_sum
    FROM public.call_monthly_rollups x GROUP BY 1, 2, 3
  )
  SELECT 'day', COALESCE(raw.day, r.day), COALESCE(raw.status, r.status), COALESCE(raw.agent_id, r.agent_id),
         COALESCE(raw.calls, 0), COALESCE(r.calls, 0),
         COALESCE(raw.duration_calls, 0), COALESCE(r.duration_calls, 0),
         COALESCE(raw.duration_sum, 0), COALESCE(r.duration_sum, 0),
         COALESCE(raw.cost_sum, 0), COALESCE(r.cost_sum, 0)
  FROM raw
  FULL JOIN r ON r.day = raw.day AND r.status = raw.status AND r.agent_id = raw.agent_id
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
  FULL JOIN m ON m.month = raw_month.month AND m.status = raw_month.status AND m.agent_id = raw_month.agent_id
  WHERE COALESCE(raw_month.calls, 0) <> COALESCE(m.calls, 0)
     OR COALESCE(raw_month.duration_calls, 0) <> COALESCE(m.duration_calls, 0)
     OR COALESCE(raw_month.duration_sum, 0) <> COALESCE(m.duration_sum, 0)
     OR COALESCE(raw_month.cost_sum, 0) <> COALESCE(m.cost_sum, 0)
  ORDER BY 1, 2, 3, 4
$$;

-- The rows there are now, in their stripes.
SELECT stats_rebuild_rollups();
