-- Runs are watched (issue 13, item 7): the monitor asks every round for running runs past
-- their deadline or stalled (no stage finished for stall_after seconds). Both reads go along
-- partial indexes of running runs, so a store with millions of finished runs answers from the
-- few that are running; the stall index is on the moment the run counts as stalled.
CREATE INDEX conveyor_runs_deadline ON conveyor_runs (deadline_at)
    WHERE state = 'running' AND deadline_at IS NOT NULL;
CREATE INDEX conveyor_runs_stall ON conveyor_runs (last_progress_at + stall_after)
    WHERE state = 'running' AND stall_after IS NOT NULL;

-- A schedule may start a pipeline: its slot then points at the run, whose final state the
-- monitor judges (not the first stage's job).
ALTER TABLE conveyor_schedule_slots ADD COLUMN run_id INTEGER;
