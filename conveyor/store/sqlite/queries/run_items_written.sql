-- How many items of a fan-out stage earlier parts wrote (items are written in order, from 0):
-- one probe of the primary key's last entry.
SELECT coalesce(max(item), -1) + 1 FROM conveyor_stage_items WHERE stage_run_id = :stage_run_id
