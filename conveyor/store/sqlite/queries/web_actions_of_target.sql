-- One target's actions, newest first along conveyor_actions_target.
SELECT id, at, actor, action, target, details_json
FROM conveyor_actions
WHERE target = :target AND id < :before
ORDER BY id DESC
LIMIT :limit
