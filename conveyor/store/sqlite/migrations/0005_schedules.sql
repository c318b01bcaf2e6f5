-- Schedules (@app.cron, @app.every, and ones added at run time): the definition a scheduler
-- reads back, and when the newest slot was written so a restarted scheduler knows what it missed.
-- Policies (catch_up, overlap) are validated where schedules are declared, not here, so a new
-- policy needs no migration.
CREATE TABLE conveyor_schedules (
    name TEXT PRIMARY KEY,
    job_name TEXT NOT NULL,
    timing TEXT NOT NULL,
    tz TEXT NOT NULL,
    args_json TEXT NOT NULL,
    queue TEXT,
    priority INTEGER,
    grace REAL NOT NULL,
    catch_up TEXT NOT NULL,
    catch_up_cap INTEGER NOT NULL,
    overlap TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('code', 'store')),
    paused INTEGER NOT NULL DEFAULT 0,
    paused_by TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    last_slot REAL
) STRICT;

-- The ledger: one row per slot of a schedule, written in the same transaction as the slot's job.
-- Its primary key is the exactly-once guarantee: however many schedulers race for a slot, one
-- insert wins and only the winner enqueues. A slot is an instant (epoch seconds) compared
-- exactly, never rounded. The ledger outlives its schedule's definition (no foreign key).
CREATE TABLE conveyor_schedule_slots (
    schedule TEXT NOT NULL,
    slot REAL NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('enqueued', 'missed', 'skipped', 'paused')),
    manual INTEGER NOT NULL DEFAULT 0,
    fired_by TEXT,
    fired_at REAL NOT NULL,
    job_id INTEGER,
    verdict TEXT CHECK (
        verdict IN ('ok', 'failed', 'late', 'missed', 'unexpected', 'skipped')
    ),
    verdict_detail TEXT,
    judged_at REAL,
    PRIMARY KEY (schedule, slot)
) STRICT;

-- The monitor's queue of work: slots still waiting for a verdict, oldest first. Judged rows
-- (millions for a one-second schedule) are not in it.
CREATE INDEX conveyor_schedule_slots_unjudged ON conveyor_schedule_slots (slot)
    WHERE verdict IS NULL;

-- A schedule's possibly unfinished runs (the overlap policy asks before every fire): only slots
-- not judged yet or judged late can still have a job that is not final.
CREATE INDEX conveyor_schedule_slots_active ON conveyor_schedule_slots (schedule, slot)
    WHERE verdict IS NULL OR verdict = 'late';

-- Pruning judged slots past their retention reads the oldest judgements first.
CREATE INDEX conveyor_schedule_slots_judged ON conveyor_schedule_slots (judged_at)
    WHERE verdict IS NOT NULL;
