-- call-gateway: which webhook events have been applied to a call (one per type and
-- conversation, as ElevenLabs sends them), so that a redelivered event changes nothing.
CREATE TABLE applied_call_events (
  event_type      text NOT NULL,
  conversation_id text NOT NULL,
  inbox_id        bigint,
  applied_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT applied_call_events_pkey PRIMARY KEY (event_type, conversation_id),
  CONSTRAINT applied_call_events_event_type_check CHECK (
    event_type IN ('post_call_transcription', 'post_call_audio', 'call_initiation_failure'))
);
COMMENT ON TABLE applied_call_events IS
  'Webhook events call-gateway has applied (its idempotency record for CallEventSink.ApplyEvents).';

GRANT SELECT, INSERT ON applied_call_events TO outcall_gateway;
GRANT SELECT ON applied_call_events TO outcall_reader;
