-- One statement for the whole batch; ids follow the input order.
INSERT INTO {schema}.conveyor_notifications (
    incident_id, kind, sink, payload_json, created_at, next_try_at
)
SELECT n.incident_id, n.kind, n.sink, n.payload_json, now(), now()
FROM unnest(
    %(incident_ids)s::bigint[], %(kinds)s::text[], %(sinks)s::text[], %(payloads)s::text[]
) WITH ORDINALITY AS n(incident_id, kind, sink, payload_json, ord)
ORDER BY n.ord
