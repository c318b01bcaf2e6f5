-- The dashboard: an audit of operator actions, and an index for the dead-letter list.

-- Every operator action (retry, cancel, replay, discard, pause, resume, trigger) with who did
-- it. Details are kept as the text the dashboard wrote (not jsonb) so they read back unchanged.
CREATE TABLE {schema}.conveyor_actions (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    details_json TEXT NOT NULL DEFAULT '{}'
);

-- One target's history (a job's page), newest first, paged by id.
CREATE INDEX conveyor_actions_target ON {schema}.conveyor_actions (target, id);

-- Job lists are newest first and paged by id (keyset), so the primary key serves a page at
-- the same cost however deep it is, as long as matching rows are spread through the table.
-- Dead jobs are the exception that matters: few, old, and what the dead-letter page lists, so
-- they get a small partial index in id order. General (state, id), (queue, id) and
-- (name, id) indexes would make every filter's first page cheap too, but they cost about 20%
-- of the insert/claim/complete rate on PostgreSQL, which every job pays. A list filter whose
-- matches are all old (an idle queue's history) reads backwards through the table instead.
CREATE INDEX conveyor_jobs_list_dead ON {schema}.conveyor_jobs (id) WHERE state = 'dead';
