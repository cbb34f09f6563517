-- 0007_cost_units: a call's cost in money, as the clinic reads it (the seed's total_cost, e.g.
-- 25.50), and ElevenLabs' credits beside it.
--
-- ElevenLabs reports two figures per conversation: metadata.cost, an integer in credits (unit not
-- documented; see ../shared/elevenlabs-api.md), and metadata.cost_fiat, the cost in USD.
-- elevenlabs_conversations.cost is the USD figure from now on (NULL when ElevenLabs gives none);
-- the credits go to cost_credits. Rows written before this migration held credits in cost: they
-- move to cost_credits (their USD figure is not known here; the stats rollups follow through
-- their triggers).
ALTER TABLE elevenlabs_conversations ADD COLUMN cost_credits bigint;
ALTER TABLE elevenlabs_conversations ADD CONSTRAINT elevenlabs_conversations_cost_credits_check
  CHECK (cost_credits >= 0);
COMMENT ON COLUMN elevenlabs_conversations.cost IS
  'Call cost in USD as ElevenLabs reports it (metadata.cost_fiat), stored exactly; NULL when not reported.';
COMMENT ON COLUMN elevenlabs_conversations.cost_credits IS
  'Call cost in ElevenLabs credits (metadata.cost).';
UPDATE elevenlabs_conversations SET cost_credits = round(cost)::bigint, cost = NULL
WHERE cost IS NOT NULL;
