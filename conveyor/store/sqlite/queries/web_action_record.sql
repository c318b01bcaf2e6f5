INSERT INTO conveyor_actions (at, actor, action, target, details_json)
VALUES (:now, :actor, :action, :target, :details_json)
RETURNING id
