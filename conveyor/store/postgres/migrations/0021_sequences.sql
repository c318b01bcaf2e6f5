-- Per-key order (sequence=, issue 16 item 4): a job of a sequence carries its key, and whether,
-- once dead, it keeps the later jobs of the key waiting (on_dead="block"). A job waiting its
-- turn is in the new state 'held', which no claim index covers. The index serves the release
-- check: the unfinished jobs of a key, and its first held one.
ALTER TABLE {schema}.conveyor_jobs ADD COLUMN sequence_key TEXT;
ALTER TABLE {schema}.conveyor_jobs ADD COLUMN sequence_blocks BOOLEAN;
ALTER TABLE {schema}.conveyor_jobs DROP CONSTRAINT conveyor_jobs_state_check;
ALTER TABLE {schema}.conveyor_jobs ADD CONSTRAINT conveyor_jobs_state_check CHECK (
    state IN ('held', 'scheduled', 'queued', 'running', 'retrying', 'succeeded', 'dead',
              'cancelled')
);
CREATE INDEX conveyor_jobs_sequence ON {schema}.conveyor_jobs (sequence_key, state, id)
    WHERE sequence_key IS NOT NULL;
