-- 0012_contact_ledger_at_idx: the contact-policy check reads only the calls in its window.
--
-- call-gateway's inputs statement (call_gateway.policy_inputs) reads the contact_ledger view for
-- a patient OR a number over the 8 days up to the decision. A call's instant in the ledger is
-- COALESCE(dial_attempted_at, created_at), which no index of 0001/0011 holds: the 8-day range
-- could only filter after the heap fetch, so every check fetched every call the patient and
-- the number ever had (all of their history, one heap page each; it grows without bound), and
-- at 1M ledger rows the check's p99 missed its 1 ms budget (docs/policy.md, "Cost of the
-- check": scripts/bench.sh policy). With the view's own expression in the index, both arms
-- of the OR (BitmapOr) carry the range as an index condition and only the window's calls are
-- fetched. The results are the same rows (the same expression, not a created_at approximation:
-- a call may be dialled long after it was queued).
--
-- The number's index replaces 0011's (phone_number, created_at DESC), which only the ledger
-- read; the patient's is new ((patient_id, created_at DESC) stays: the call lists use it).
CREATE INDEX elevenlabs_conversations_phone_number_at_idx
  ON elevenlabs_conversations (phone_number, (COALESCE(dial_attempted_at, created_at)) DESC);
CREATE INDEX elevenlabs_conversations_patient_id_at_idx
  ON elevenlabs_conversations (patient_id, (COALESCE(dial_attempted_at, created_at)) DESC)
  WHERE patient_id IS NOT NULL;
DROP INDEX elevenlabs_conversations_phone_number_created_at_idx;
