-- Schedules (@app.cron, @app.every, and ones added at run time): the definition a scheduler
-- reads back, and when the newest slot was written so a restarted scheduler knows what it missed.
-- Policies (catch_up, overlap) are validated where schedules are declared, not here, so a new
-- policy needs no migration.
CREATE TABLE {schema}.conveyor_schedules (
    name TEXT PRIMARY KEY,
    job_name TEXT NOT NULL,
    timing TEXT NOT NULL,
    tz TEXT NOT NULL,
    args_json TEXT NOT NULL,
    queue TEXT,
    priority INTEGER,
    grace DOUBLE PRECISION NOT NULL,
    catch_up TEXT NOT NULL,
    catch_up_cap INTEGER NOT NULL,
    overlap TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('code', 'store')),
    paused BOOLEAN NOT NULL DEFAULT false,
    paused_by TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_slot DOUBLE PRECISION
);

-- The ledger: one row per slot of a schedule, written in the same transaction as the slot's job.
-- Its primary key is the exactly-once guarantee: however many schedulers race for a slot, one
-- insert wins and only the winner enqueues. A slot is an instant kept as epoch seconds
-- (DOUBLE PRECISION, not TIMESTAMPTZ, whose microseconds would round it) and compared exactly.
-- The ledger outlives its schedule's definition (no foreign key).
CREATE TABLE {schema}.conveyor_schedule_slots (
    schedule TEXT NOT NULL,
    slot DOUBLE PRECISION NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('enqueued', 'missed', 'skipped', 'paused')),
    manual BOOLEAN NOT NULL DEFAULT false,
    fired_by TEXT,
    fired_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    job_id BIGINT,
    verdict TEXT CHECK (
        verdict IN ('ok', 'failed', 'late', 'missed', 'unexpected', 'skipped')
    ),
    verdict_detail TEXT,
    judged_at TIMESTAMPTZ,
    PRIMARY KEY (schedule, slot)
);

-- The monitor's queue of work: slots still waiting for a verdict, oldest first. Judged rows
-- (millions for a one-second schedule) are not in it.
CREATE INDEX conveyor_schedule_slots_unjudged ON {schema}.conveyor_schedule_slots (slot)
    WHERE verdict IS NULL;

-- A schedule's possibly unfinished runs (the overlap policy asks before every fire): only slots
-- not judged yet or judged late can still have a job that is not final.
CREATE INDEX conveyor_schedule_slots_active ON {schema}.conveyor_schedule_slots (schedule, slot)
    WHERE verdict IS NULL OR verdict = 'late';

-- Pruning judged slots past their retention reads the oldest judgements first.
CREATE INDEX conveyor_schedule_slots_judged ON {schema}.conveyor_schedule_slots (judged_at)
    WHERE verdict IS NOT NULL;
