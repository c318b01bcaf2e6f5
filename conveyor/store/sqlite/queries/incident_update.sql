UPDATE conveyor_incidents
SET summary = :summary, details_json = :details_json, updated_at = :now
WHERE id = :id AND state = 'firing'
