-- The stage rows of the runs whose stages these are (the stages of items a completion just
-- ended), as run_graph.stage_from_row takes them, each with its run's state last: the
-- advance's one read. The write transaction already holds every run's lock, so no run row is
-- read before it. Only a waiting stage's template is read: an advance makes jobs only for
-- the waiting stages it activates (the template is the row's longest value).
SELECT s.id, s.run_id, s.stage, s.state, s.parents, s.pending_parents, s.fan_out,
    s.on_item_failure, s.items_total, s.items_left, s.items_failed,
    CASE WHEN s.state = 'waiting' THEN s.template END, s.error, s.input_override, r.state
FROM conveyor_runs AS r
JOIN conveyor_stage_runs AS s ON s.run_id = r.id
WHERE r.id IN (
    SELECT e.run_id FROM conveyor_stage_runs AS e
    WHERE e.id IN (SELECT value FROM json_each(:stage_ids))
)
ORDER BY s.run_id, s.position
