-- 0009_reconcile_state: the reconciler makes fair progress and gives up (issue 13).
--
-- One row per call the reconciler tried and could not settle: when to try it next (exponential
-- backoff per call), how many tries, and how many definite "ElevenLabs does not know this
-- conversation" answers (404) it got. The reconciler takes due calls least recently tried first,
-- so calls that keep failing can never starve the others, and after a bounded number of 404s
-- the call is failed with the reason. Settled calls lose their row.

CREATE TABLE call_reconcile_state (
  call_row_id     bigint PRIMARY KEY,
  attempts        integer NOT NULL DEFAULT 0,
  not_found       integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error      text,
  CONSTRAINT call_reconcile_state_call_row_id_fkey FOREIGN KEY (call_row_id)
    REFERENCES elevenlabs_conversations (id) ON DELETE CASCADE,
  CONSTRAINT call_reconcile_state_attempts_check CHECK (attempts >= 0),
  CONSTRAINT call_reconcile_state_not_found_check CHECK (not_found >= 0)
);
COMMENT ON TABLE call_reconcile_state IS
  'call-gateway reconciler: calls it could not settle yet, with their backoff (next_attempt_at), tries and definite 404 answers; last_error names the failure, never patient data.';
CREATE INDEX call_reconcile_state_next_attempt_at_idx ON call_reconcile_state (next_attempt_at);

GRANT SELECT, INSERT, UPDATE, DELETE ON call_reconcile_state TO outcall_gateway;
