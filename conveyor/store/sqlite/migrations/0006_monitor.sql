-- The monitor's tables. They stand alone: nothing here refers to the schedules of 0005.

-- Check-ins: work outside Conveyor that pings (`conveyor checkin NAME`) and is watched for
-- silence. last_ping_at repeats the newest ping so the monitor reads one row per check-in.
CREATE TABLE conveyor_checkins (
    name TEXT PRIMARY KEY,
    timing TEXT NOT NULL,
    tz TEXT NOT NULL DEFAULT 'UTC',
    grace REAL NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    last_ping_at REAL,
    paused INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE conveyor_checkin_pings (
    name TEXT NOT NULL,
    at REAL NOT NULL
) STRICT;

-- One check-in's pings in time order: the monitor reads those after a point, and pruning
-- finds each check-in's old pings (and its newest one, which is kept) along it.
CREATE INDEX conveyor_checkin_pings_name ON conveyor_checkin_pings (name, at);

-- Incidents: a rule firing for one subject, from when it started until it resolved.
-- AUTOINCREMENT: an id is never handed out twice, even after old incidents are pruned,
-- because notifications already sent name it.
CREATE TABLE conveyor_incidents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rule TEXT NOT NULL,
    subject TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('firing', 'resolved')),
    summary TEXT NOT NULL,
    details_json TEXT NOT NULL,
    opened_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    resolved_at REAL,
    last_notified_at REAL,
    notify_count INTEGER NOT NULL DEFAULT 0
) STRICT;

-- At most one firing incident per rule and subject, whatever number of monitors race to
-- open it: the loser's insert does nothing.
CREATE UNIQUE INDEX conveyor_incidents_firing ON conveyor_incidents (rule, subject)
    WHERE state = 'firing';

-- Pruning takes the incidents resolved longest ago.
CREATE INDEX conveyor_incidents_resolved ON conveyor_incidents (resolved_at)
    WHERE state = 'resolved';

-- The outbox: one row per notification and sink, retried until delivered or given up.
CREATE TABLE conveyor_notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('firing', 'reminder', 'resolved')),
    sink TEXT NOT NULL,
    payload_json TEXT NOT NULL,
    created_at REAL NOT NULL,
    next_try_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    delivered_at REAL,
    failed_at REAL,
    last_error TEXT
) STRICT;

-- The rows still to deliver, by when they are due: the outbox's poll reads only these.
CREATE INDEX conveyor_notifications_due ON conveyor_notifications (next_try_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;

-- An incident's notifications, for its history and for pruning them with it.
CREATE INDEX conveyor_notifications_incident ON conveyor_notifications (incident_id, id);

-- Named leases with an expiry, e.g. the one that makes a single monitor active at a time.
CREATE TABLE conveyor_leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at REAL NOT NULL
) STRICT;
