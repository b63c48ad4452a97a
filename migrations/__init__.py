"""Alembic migrations of the state store. Applied by ``syncer db upgrade`` (and automatically
for SQLite stores); see ``syncer/state/migrate.py``."""
