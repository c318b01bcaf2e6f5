SELECT extract(epoch FROM at)::float8
FROM {schema}.conveyor_checkin_pings
WHERE name = %(name)s AND at > to_timestamp(%(since)s)
ORDER BY at
