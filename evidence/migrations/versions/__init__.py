"""Alembic revisions of the findings store, oldest first by their ``down_revision``."""
