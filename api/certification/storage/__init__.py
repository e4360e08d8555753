"""Storage: SQLAlchemy 2 typed ORM, Alembic migrations, one code path for SQLite and PostgreSQL."""
