"""Persistence adapters (SQLModel/SQLAlchemy); the schema is managed by Alembic migrations."""
