-- 0004_webhook_ingest: what webhook-ingest needs beyond the inbox of 0001.
--
-- Call audio (post_call_audio, only when SAVE_CALL_AUDIO) arrives as megabytes of base64 and is
-- written while it streams in, in parts of about 1 MiB, so neither webhook-ingest nor PostgreSQL
-- ever holds a whole recording in one value. The parts belong to the inbox row of the event;
-- call-gateway assembles them into elevenlabs_audio (string_agg(data, '' ORDER BY part)) when it
-- applies the event, once the conversation is known (elevenlabs_audio references it).

CREATE TABLE webhook_audio_parts (
  inbox_id  bigint  NOT NULL,
  part      integer NOT NULL,
  data      bytea   NOT NULL,
  CONSTRAINT webhook_audio_parts_pkey PRIMARY KEY (inbox_id, part),
  CONSTRAINT webhook_audio_parts_inbox_id_fkey FOREIGN KEY (inbox_id)
    REFERENCES webhook_inbox (id) ON DELETE CASCADE,
  CONSTRAINT webhook_audio_parts_part_check CHECK (part >= 0)
);
COMMENT ON TABLE webhook_audio_parts IS
  'Decoded MP3 of a post_call_audio event, in order (part 0, 1, ...), stored with its inbox row when SAVE_CALL_AUDIO is true. Size and SHA-256 of the whole are in the inbox body (outcall_audio).';
ALTER TABLE webhook_audio_parts ALTER COLUMN data SET STORAGE EXTERNAL;  -- mp3: already compressed

-- The publisher sends unpublished events in id order (the order they were stored, which keeps
-- each conversation's events in order).
CREATE INDEX webhook_inbox_unpublished_id_idx ON webhook_inbox (id) WHERE published_at IS NULL;

GRANT SELECT, INSERT ON webhook_audio_parts TO outcall_ingest;
GRANT SELECT, DELETE ON webhook_audio_parts TO outcall_gateway;
