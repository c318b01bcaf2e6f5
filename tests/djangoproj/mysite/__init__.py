"""A small Django project that uses Conveyor, for the suite."""
