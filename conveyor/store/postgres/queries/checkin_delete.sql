WITH pings AS (
    DELETE FROM {schema}.conveyor_checkin_pings WHERE name = %(name)s
)
DELETE FROM {schema}.conveyor_checkins WHERE name = %(name)s
RETURNING name
