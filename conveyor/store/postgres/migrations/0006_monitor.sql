-- The monitor's tables. They stand alone: nothing here refers to the schedules of 0005.

-- Check-ins: work outside Conveyor that pings (`conveyor checkin NAME`) and is watched for
-- silence. last_ping_at repeats the newest ping so the monitor reads one row per check-in.
CREATE TABLE {schema}.conveyor_checkins (
    name TEXT PRIMARY KEY,
    timing TEXT NOT NULL,
    tz TEXT NOT NULL DEFAULT 'UTC',
    grace DOUBLE PRECISION NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_ping_at TIMESTAMPTZ,
    paused BOOLEAN NOT NULL DEFAULT false
);

CREATE TABLE {schema}.conveyor_checkin_pings (
    name TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL
);

-- One check-in's pings in time order: the monitor reads those after a point, and pruning
-- finds each check-in's old pings (and its newest one, which is kept) along it.
CREATE INDEX conveyor_checkin_pings_name ON {schema}.conveyor_checkin_pings (name, at);

-- Incidents: a rule firing for one subject, from when it started until it resolved.
-- Details are kept as the text the monitor wrote (not jsonb) so they read back unchanged.
CREATE TABLE {schema}.conveyor_incidents (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule TEXT NOT NULL,
    subject TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('firing', 'resolved')),
    summary TEXT NOT NULL,
    details_json TEXT NOT NULL,
    opened_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    resolved_at TIMESTAMPTZ,
    last_notified_at TIMESTAMPTZ,
    notify_count INTEGER NOT NULL DEFAULT 0
);

-- At most one firing incident per rule and subject, whatever number of monitors race to
-- open it: the loser's insert waits for the winner's commit, then does nothing.
CREATE UNIQUE INDEX conveyor_incidents_firing ON {schema}.conveyor_incidents (rule, subject)
    WHERE state = 'firing';

-- Pruning takes the incidents resolved longest ago.
CREATE INDEX conveyor_incidents_resolved ON {schema}.conveyor_incidents (resolved_at)
    WHERE state = 'resolved';

-- The outbox: one row per notification and sink, retried until delivered or given up.
-- The payload is the exact text a sink sends, so it is text too.
CREATE TABLE {schema}.conveyor_notifications (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id BIGINT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('firing', 'reminder', 'resolved')),
    sink TEXT NOT NULL,
    payload_json TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    next_try_at TIMESTAMPTZ NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    delivered_at TIMESTAMPTZ,
    failed_at TIMESTAMPTZ,
    last_error TEXT
);

-- The rows still to deliver, by when they are due: the outbox's poll reads only these.
CREATE INDEX conveyor_notifications_due ON {schema}.conveyor_notifications (next_try_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;

-- An incident's notifications, for its history and for pruning them with it.
CREATE INDEX conveyor_notifications_incident
    ON {schema}.conveyor_notifications (incident_id, id);

-- Named leases with an expiry, e.g. the one that makes a single monitor active at a time.
CREATE TABLE {schema}.conveyor_leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
