-- Cluster gauges computed once per monitor round (issue 15): the monitor's lease holder writes
-- the rendered gauges here and every /metrics scrape reads one row instead of counting the
-- jobs table. Workers record their slots and how many are busy at each heartbeat, for the
-- busy and free slots gauges.
CREATE TABLE {schema}.conveyor_metrics_snapshot (
    name TEXT PRIMARY KEY,
    taken_at DOUBLE PRECISION NOT NULL,
    body TEXT NOT NULL
);
ALTER TABLE {schema}.conveyor_workers ADD COLUMN slots INTEGER NOT NULL DEFAULT 0;
ALTER TABLE {schema}.conveyor_workers ADD COLUMN busy INTEGER NOT NULL DEFAULT 0;
