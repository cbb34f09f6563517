-- 0010_audio_recovery: the reconciler recovers recordings whose post_call_audio webhook was lost
-- (issue 13).
--
-- ElevenLabs sends each webhook once. When a call's transcription says the conversation has
-- audio (has_audio) and SAVE_CALL_AUDIO is on, call-gateway records the need here in the same
-- transaction that applies the transcription; storing the recording (the webhook's, or the one
-- the reconciler downloads from GET /v1/convai/conversations/{id}/audio) and erasing the
-- conversation remove it. So the reconciler reads only this small table, never the calls'
-- history. A row it could not serve backs off exponentially (next_attempt_at, as
-- call_reconcile_state); after a bounded number of definite answers (404: ElevenLabs has no
-- audio for the conversation) or once the need is older than its window, it is given up: the
-- row stays with gave_up_at and the reason, and an elevenlabs_call_errors row says so.

CREATE TABLE call_audio_recovery (
  call_row_id     bigint PRIMARY KEY,
  needed_since    timestamptz NOT NULL DEFAULT now(),
  attempts        integer NOT NULL DEFAULT 0,
  not_found       integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error      text,
  gave_up_at      timestamptz,
  gave_up_reason  text,
  CONSTRAINT call_audio_recovery_call_row_id_fkey FOREIGN KEY (call_row_id)
    REFERENCES elevenlabs_conversations (id) ON DELETE CASCADE,
  CONSTRAINT call_audio_recovery_attempts_check CHECK (attempts >= 0),
  CONSTRAINT call_audio_recovery_not_found_check CHECK (not_found >= 0),
  CONSTRAINT call_audio_recovery_gave_up_check CHECK ((gave_up_at IS NULL) = (gave_up_reason IS NULL))
);
COMMENT ON TABLE call_audio_recovery IS
  'call-gateway reconciler: settled calls whose conversation has audio but no elevenlabs_audio row yet (SAVE_CALL_AUDIO on), with their backoff, tries and definite 404 answers; gave_up_at and gave_up_reason once the reconciler stopped trying. Reasons and errors never hold patient data.';
-- The reconciler's pass: pending needs, due first.
CREATE INDEX call_audio_recovery_pending_idx ON call_audio_recovery (next_attempt_at, call_row_id)
  WHERE gave_up_at IS NULL;

GRANT SELECT, INSERT, UPDATE, DELETE ON call_audio_recovery TO outcall_gateway;

-- Calls completed in the last 7 days without a recording (their audio webhook may have been lost
-- before this migration): the reconciler looks once SAVE_CALL_AUDIO is on, and gives up on those
-- ElevenLabs has no audio for. Erased conversations stay erased.
INSERT INTO call_audio_recovery (call_row_id)
SELECT c.id
FROM elevenlabs_conversations c
WHERE c.status = 'completed'
  AND c.created_at > now() - interval '7 days'
  AND c.conversation_id IS NOT NULL
  AND NOT c.metadata ? 'erased_at'
  AND NOT EXISTS (SELECT 1 FROM elevenlabs_audio a WHERE a.conversation_id = c.conversation_id);
