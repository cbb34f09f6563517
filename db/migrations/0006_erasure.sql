-- 0006_erasure: call-gateway finishes what webhook-ingest stored.
--
-- Applying a stored post_call_audio event moves its parts (webhook_audio_parts, 0004) into
-- elevenlabs_audio and deletes them. Erasing a conversation (a patient's deletion request, or an
-- event arriving after one) also empties the verified bodies the inbox kept for it: the row stays
-- (type, conversation id, times, SHA-256 of what was received) so the erasure itself is auditable
-- and a redelivery is still recognised as a duplicate, and it is marked published so nothing
-- empty is ever delivered.
GRANT UPDATE (body, body_truncated, published_at) ON webhook_inbox TO outcall_gateway;
