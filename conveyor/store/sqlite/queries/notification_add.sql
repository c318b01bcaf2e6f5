-- One statement for the whole batch; ids follow the input order.
INSERT INTO conveyor_notifications (
    incident_id, kind, sink, payload_json, created_at, next_try_at
)
SELECT value ->> '$.incident_id', value ->> '$.kind', value ->> '$.sink',
       value ->> '$.payload_json', :now, :now
FROM json_each(:rows)
ORDER BY key
