-- A batch of one fan-out stage's items that all succeeded and leave it unfinished: its count
-- goes down, and nothing else of the run changes (what the advance would write for them, in
-- one statement instead of reading the run's stages and writing the row back). No row: the
-- batch finishes the stage, or the stage stopped; the full advance decides.
UPDATE conveyor_stage_runs SET items_left = items_left - :n
WHERE id = :stage_run_id AND fan_out AND state = 'active' AND items_left > :n
RETURNING id
