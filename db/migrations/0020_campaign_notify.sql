-- Issue 16: live campaign progress from every replica. Each recipient's change of state, each
-- campaign's change of state and each batch of new recipients is announced on the channel
-- 'outcall_campaigns' (NOTIFY: delivered when the writing transaction commits, never before,
-- never for one that rolls back). call-gateway's campaign feed LISTENs and hands the changes of
-- the campaigns someone watches to the WatchCampaign streams. Payloads are JSON with ids and
-- states only (no phone number, no name):
--   {"c": campaign row, "r": recipient id, "f": from state, "t": to state, "o": outcome, "a": attempts}
--   {"c": campaign row, "s": campaign state}
--   {"c": campaign row, "n": recipients added}
CREATE FUNCTION notify_campaign_recipient_change() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('outcall_campaigns', json_build_object('c', NEW.campaign_id, 'r', NEW.id,
    'f', OLD.state, 't', NEW.state, 'o', NEW.outcome, 'a', NEW.attempts)::text);
  RETURN NULL;
END $$;
CREATE TRIGGER campaign_recipients_notify AFTER UPDATE OF state ON campaign_recipients
  FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)
  EXECUTE FUNCTION notify_campaign_recipient_change();

CREATE FUNCTION notify_campaign_recipients_added() RETURNS trigger
  LANGUAGE plpgsql AS $$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT campaign_id, count(*) AS n FROM added GROUP BY campaign_id LOOP
    PERFORM pg_notify('outcall_campaigns', json_build_object('c', r.campaign_id, 'n', r.n)::text);
  END LOOP;
  RETURN NULL;
END $$;
CREATE TRIGGER campaign_recipients_notify_added AFTER INSERT ON campaign_recipients
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT
  EXECUTE FUNCTION notify_campaign_recipients_added();

CREATE FUNCTION notify_campaign_change() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('outcall_campaigns', json_build_object('c', NEW.id, 's', NEW.state)::text);
  RETURN NULL;
END $$;
CREATE TRIGGER campaigns_notify AFTER UPDATE OF state ON campaigns
  FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)
  EXECUTE FUNCTION notify_campaign_change();
