SELECT taken_at, body FROM conveyor_metrics_snapshot WHERE name = :name
