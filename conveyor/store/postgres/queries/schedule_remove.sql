-- The ledger stays: its history is still worth reading after the definition is gone.
DELETE FROM {schema}.conveyor_schedules WHERE name = %(name)s RETURNING name
