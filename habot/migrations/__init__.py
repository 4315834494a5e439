"""Alembic migrations for habot's database (applied by `habot db upgrade` and at start)."""
