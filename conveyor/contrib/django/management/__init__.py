"""Conveyor's management commands."""
