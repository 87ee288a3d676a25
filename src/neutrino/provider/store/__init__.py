"""The provider's storage: SQLAlchemy Core tables, a unit of work, and Alembic migrations."""
