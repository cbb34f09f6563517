-- 0008_event_quarantine: one odd event never stops the pipeline (issue 13).
--
-- 1. What ElevenLabs may plausibly send is data, not an error: a transcript role other than
--    user/agent (tool turns, new roles) and an analysis verdict other than success/failure/unknown
--    are stored as sent. The checks only keep them non-empty and short.
-- 2. An event that cannot be applied (a value out of range, a constraint that still refuses it)
--    is quarantined in the inbox with the reason: the publisher skips it and holds back only the
--    later events of the same conversation; everything else flows. `outcall-inbox` lists,
--    replaces (fixes), retries and discards quarantined events.

ALTER TABLE elevenlabs_transcriptions DROP CONSTRAINT elevenlabs_transcriptions_role_check;
ALTER TABLE elevenlabs_transcriptions ADD CONSTRAINT elevenlabs_transcriptions_role_check
  CHECK (char_length(btrim(role)) BETWEEN 1 AND 64);
ALTER TABLE elevenlabs_conversations DROP CONSTRAINT elevenlabs_conversations_call_successful_check;
ALTER TABLE elevenlabs_conversations ADD CONSTRAINT elevenlabs_conversations_call_successful_check
  CHECK (char_length(btrim(call_successful)) BETWEEN 1 AND 64);
ALTER TABLE elevenlabs_analysis DROP CONSTRAINT elevenlabs_analysis_call_successful_check;
ALTER TABLE elevenlabs_analysis ADD CONSTRAINT elevenlabs_analysis_call_successful_check
  CHECK (char_length(btrim(call_successful)) BETWEEN 1 AND 64);
COMMENT ON COLUMN elevenlabs_transcriptions.role IS
  'Speaker as ElevenLabs sent it: user, agent, or any other role it adds (kept as data).';

ALTER TABLE webhook_inbox
  ADD COLUMN quarantined_at    timestamptz,
  ADD COLUMN quarantine_reason text,
  ADD COLUMN original_body     bytea,
  ADD COLUMN discarded_at      timestamptz,
  ADD CONSTRAINT webhook_inbox_quarantine_reason_check CHECK (
    (quarantined_at IS NULL) OR (quarantine_reason IS NOT NULL AND btrim(quarantine_reason) <> ''));
COMMENT ON COLUMN webhook_inbox.quarantined_at IS
  'Set when the event could not be applied (see quarantine_reason): it is not published, and later events of its conversation wait, until outcall-inbox replaces, retries or discards it.';
COMMENT ON COLUMN webhook_inbox.quarantine_reason IS
  'Why the event could not be applied: field names and constraint names, never patient data.';
COMMENT ON COLUMN webhook_inbox.original_body IS
  'The body as received, kept when an operator replaced body with a fixed one (outcall-inbox replace).';
COMMENT ON COLUMN webhook_inbox.discarded_at IS
  'Set when an operator gave up on a quarantined event (outcall-inbox discard): published_at is set too, so it no longer holds its conversation back; the row and its reason stay.';

-- The publisher's question for each pending event: does an earlier event of its conversation sit
-- in quarantine?
CREATE INDEX webhook_inbox_quarantined_idx ON webhook_inbox (conversation_id, id)
  WHERE quarantined_at IS NOT NULL AND published_at IS NULL;
