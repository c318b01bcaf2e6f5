-- A later part of a fan-out found its run stopped once it held the lock: its rows are undone
-- (and the locks taken since the savepoint let go); the transaction goes on, the locked way.
ROLLBACK TO SAVEPOINT conveyor_fan_out_part
