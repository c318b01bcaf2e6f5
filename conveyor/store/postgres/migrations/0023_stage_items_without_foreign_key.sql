-- A fan-out writes thousands of item rows per part, and the foreign key to the stage row
-- checked each one with a trigger: 5 of 19 us of server time per item COPYed (decision 144).
-- Only Conveyor writes the rows, always for a stage it has just read, and checked under its
-- run's lock before the part commits (decision 130); run_prune.sql now deletes a pruned run's
-- items itself, which the key's cascade did.
ALTER TABLE {schema}.conveyor_stage_items
    DROP CONSTRAINT IF EXISTS conveyor_stage_items_stage_run_id_fkey;
