"""``conveyor_worker`` and ``conveyor_migrate``."""
