"""``conveyor_migrate`` and ``conveyor_worker``."""
