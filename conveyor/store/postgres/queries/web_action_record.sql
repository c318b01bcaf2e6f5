INSERT INTO {schema}.conveyor_actions (actor, action, target, details_json)
VALUES (%(actor)s, %(action)s, %(target)s, %(details_json)s)
RETURNING id
