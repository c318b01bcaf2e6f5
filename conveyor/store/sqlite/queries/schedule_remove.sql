-- The ledger stays: its history is still worth reading after the definition is gone.
DELETE FROM conveyor_schedules WHERE name = :name
