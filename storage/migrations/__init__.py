"""Alembic migrations of the catalog (SQLite and PostgreSQL). ``Catalog.migrate()`` runs them."""
