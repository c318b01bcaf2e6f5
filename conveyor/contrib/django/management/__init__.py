"""Django management commands of Conveyor."""
