-- Completion webhooks: a job enqueued with notify_url= is POSTed to that URL when it finishes.

-- The jobs that asked for a webhook, by when they finished: the notifiers look for new
-- finishes here, so jobs without a URL (nearly all) add nothing to their reads. Building it
-- reads the jobs table once, while the migration holds its lock.
CREATE INDEX conveyor_jobs_notify ON {schema}.conveyor_jobs (finished_at)
    WHERE meta ? 'notify_url';

-- One delivery per job: the newest finish (a job retried after dead finishes again and
-- replaces its row). finished_at names the finish being reported and is compared exactly,
-- so it is kept as the epoch seconds read from the job (double precision, like a slot),
-- not as a timestamp converted back and forth. The payload is fixed when the job finishes
-- (what was true then, even if the job is pruned before delivery) and kept as the exact
-- text that is POSTed.
CREATE TABLE {schema}.conveyor_job_webhooks (
    job_id BIGINT PRIMARY KEY,
    url TEXT NOT NULL,
    payload_json TEXT NOT NULL,
    finished_at DOUBLE PRECISION NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try_at TIMESTAMPTZ NOT NULL,
    last_error TEXT,
    delivered_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The deliveries still to make, by when they are due: the claim reads only these.
CREATE INDEX conveyor_job_webhooks_due ON {schema}.conveyor_job_webhooks (next_try_at)
    WHERE state = 'pending';

-- Failing deliveries (retrying or given up), for listing them.
CREATE INDEX conveyor_job_webhooks_failing ON {schema}.conveyor_job_webhooks (job_id)
    WHERE last_error IS NOT NULL AND state <> 'delivered';
