-- Changes nothing, but as a write it takes SQLite's write lock for the open transaction.
UPDATE conveyor_jobs SET id = id WHERE id = -1
