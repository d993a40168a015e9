"""Alembic migrations of the catalog (SQLite and PostgreSQL). ``Catalog.migrate()`` runs them.

The catalog keeps its revision in its own table, :data:`VERSION_TABLE`
(``gaitlake_alembic_version``), not Alembic's default ``alembic_version``: a
database shared with another Alembic user (Prefect's server keeps its revision
in ``alembic_version``) must not make either lose track of its schema. A
catalog migrated before this change (its revision in ``alembic_version``) is
adopted by ``env.py``: the revision is copied into :data:`VERSION_TABLE`.
"""

VERSION_TABLE = "gaitlake_alembic_version"
LEGACY_VERSION_TABLE = "alembic_version"
