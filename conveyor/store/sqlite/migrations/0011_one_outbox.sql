-- One outbox: alert notices (0006's conveyor_notifications) and completion webhooks (0008's
-- conveyor_job_webhooks) become rows of one delivery table, served by one deliverer with one
-- lease and one retry schedule. Every row of both old tables is copied (delivered ones too:
-- both tables are pruned, so they are small), then the old tables go.

CREATE TABLE conveyor_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- alert: subject is an incident id, destination a sink name, event the notice kind.
    -- webhook: subject is a job id, destination the notify_url, event 'finished'.
    kind TEXT NOT NULL CHECK (kind IN ('alert', 'webhook')),
    subject INTEGER NOT NULL,
    event TEXT NOT NULL,
    destination TEXT NOT NULL,
    payload_json TEXT NOT NULL,
    -- When it happened. A webhook's is the job's finished_at exactly as read from the job: it
    -- names the finish being reported, so it is compared, never recomputed.
    event_at REAL NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try_at REAL NOT NULL,
    -- The deliverer holding the row, and when its claim lapses; cleared by each record.
    lease_owner TEXT,
    lease_until REAL,
    last_error TEXT,
    created_at REAL NOT NULL,
    delivered_at REAL,
    failed_at REAL
) STRICT;

-- One webhook row per job (its newest finish); notices are never merged.
CREATE UNIQUE INDEX conveyor_deliveries_webhook ON conveyor_deliveries (subject)
    WHERE kind = 'webhook';

-- The rows still to deliver, by when they are due: the claim reads only these.
CREATE INDEX conveyor_deliveries_due ON conveyor_deliveries (next_try_at)
    WHERE state = 'pending';

-- One incident's (or job's) deliveries, for its history and for pruning them with it.
CREATE INDEX conveyor_deliveries_subject ON conveyor_deliveries (kind, subject, id);

-- Failing deliveries (retrying or given up), for listing them.
CREATE INDEX conveyor_deliveries_failing ON conveyor_deliveries (id)
    WHERE last_error IS NOT NULL AND state <> 'delivered';

-- Oldest first across both tables, so ids keep growing with time.
INSERT INTO conveyor_deliveries (
    kind, subject, event, destination, payload_json, event_at, state, attempts, next_try_at,
    last_error, created_at, delivered_at, failed_at
)
SELECT kind, subject, event, destination, payload_json, event_at, state, attempts,
       next_try_at, last_error, created_at, delivered_at, failed_at
FROM (
    SELECT 'alert' AS kind, incident_id AS subject, kind AS event, sink AS destination,
           payload_json, created_at AS event_at,
           CASE WHEN delivered_at IS NOT NULL THEN 'delivered'
                WHEN failed_at IS NOT NULL THEN 'failed'
                ELSE 'pending' END AS state,
           attempts, next_try_at, last_error, created_at, delivered_at, failed_at,
           0 AS source, id AS source_id
    FROM conveyor_notifications
    UNION ALL
    SELECT 'webhook', job_id, 'finished', url, payload_json, finished_at, state, attempts,
           next_try_at, last_error, created_at, delivered_at,
           -- 0008 kept no time of giving up; the last claim's lease end is the nearest.
           CASE WHEN state = 'failed' THEN next_try_at END,
           1, job_id
    FROM conveyor_job_webhooks
)
ORDER BY created_at, source, source_id;

DROP TABLE conveyor_notifications;
DROP TABLE conveyor_job_webhooks;
