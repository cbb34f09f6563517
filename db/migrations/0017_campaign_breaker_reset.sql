-- Issue 16: a resumed campaign's circuit breaker starts afresh.
--
-- The breaker reads a campaign's latest settled attempts. Resuming an auto_paused campaign by hand
-- (once the cause is fixed) must not let the failures that tripped it trip it again at the next
-- failure: the breaker only reads the attempts settled after the last resume.
ALTER TABLE campaigns ADD COLUMN breaker_reset_at timestamptz;
COMMENT ON COLUMN campaigns.breaker_reset_at IS
  'When the campaign was last resumed from auto_paused: the breaker reads only attempts settled since.';
