-- What the Node baseline (../shared/baselines/node-api-ref, server.js initiateCall) does in
-- PostgreSQL per call: one autocommit INSERT (after the ElevenLabs POST). Distinct phone and
-- conversation id from an unlogged sequence. Used by bench/rest_bench.sh.
INSERT INTO elevenlabs_conversations (conversation_id, agent_id, patient_id, appointment_id, phone, status, metadata)
SELECT 'conv_pgb_' || s.n, 'agent_sim_confirmaciones', NULL, NULL, '+5730' || lpad(s.n::text, 8, '0'), 'initiated',
       '{"callSid": "CA0e65fc1138b4385e18e5565a312dfc2e"}'::jsonb
FROM (SELECT nextval('rest_pgb_phone') AS n) s;
