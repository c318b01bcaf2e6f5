UPDATE {schema}.conveyor_incidents
SET summary = %(summary)s, details_json = %(details_json)s, updated_at = now()
WHERE id = %(id)s AND state = 'firing'
