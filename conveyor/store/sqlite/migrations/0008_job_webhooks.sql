-- Completion webhooks: a job enqueued with notify_url= is POSTed to that URL when it finishes.

-- The jobs that asked for a webhook, by when they finished: the notifiers look for new
-- finishes here, so jobs without a URL (nearly all) add nothing to their reads. The
-- notifier's query repeats this exact expression so SQLite can use the index.
CREATE INDEX conveyor_jobs_notify ON conveyor_jobs (finished_at)
    WHERE json_extract(meta, '$.notify_url') IS NOT NULL;

-- One delivery per job: the newest finish (a job retried after dead finishes again and
-- replaces its row). finished_at names the finish being reported and is compared exactly,
-- so it is the value read from the job, never recomputed. The payload is fixed when the
-- job finishes: what was true then, even if the job is pruned before delivery.
CREATE TABLE conveyor_job_webhooks (
    job_id INTEGER PRIMARY KEY,
    url TEXT NOT NULL,
    payload_json TEXT NOT NULL,
    finished_at REAL NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try_at REAL NOT NULL,
    last_error TEXT,
    delivered_at REAL,
    created_at REAL NOT NULL
) STRICT;

-- The deliveries still to make, by when they are due: the claim reads only these.
CREATE INDEX conveyor_job_webhooks_due ON conveyor_job_webhooks (next_try_at)
    WHERE state = 'pending';

-- Failing deliveries (retrying or given up), for listing them.
CREATE INDEX conveyor_job_webhooks_failing ON conveyor_job_webhooks (job_id)
    WHERE last_error IS NOT NULL AND state <> 'delivered';
