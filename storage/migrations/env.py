"""Alembic environment: the catalog's metadata; the URL comes from the caller (Catalog.migrate) or settings."""
from __future__ import annotations

from alembic import context
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from storage.catalog import Base
from storage.migrations import LEGACY_VERSION_TABLE, VERSION_TABLE

config = context.config
target_metadata = Base.metadata
# One migration at a time on PostgreSQL (workers may start together).
ADVISORY_LOCK = 712_204_551


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from configs import get_settings

    return get_settings().catalog_url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True, compare_type=True, version_table=VERSION_TABLE)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(_url())
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection) -> None:
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": ADVISORY_LOCK})
        connection.commit()
    try:
        _adopt_legacy_version(connection)
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=True, compare_type=True, version_table=VERSION_TABLE)
        with context.begin_transaction():
            context.run_migrations()
        if connection.in_transaction():
            connection.commit()
    finally:
        if postgres:
            connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK})
            connection.commit()


def _adopt_legacy_version(connection) -> None:
    """Copy our revision from ``alembic_version`` into ``VERSION_TABLE`` (catalogs migrated before it existed).

    Only a revision this script directory knows is ours; anything else in
    ``alembic_version`` (Prefect's revision, in a database shared with its
    server) is left alone.
    """
    names = set(inspect(connection).get_table_names())
    if connection.in_transaction():
        connection.commit()
    if VERSION_TABLE in names or LEGACY_VERSION_TABLE not in names:
        return
    known = {rev.revision for rev in ScriptDirectory.from_config(config).walk_revisions()}
    ours = [r for r in connection.execute(text(f"SELECT version_num FROM {LEGACY_VERSION_TABLE}")).scalars()
            if r in known]
    if not ours and "sessions" in names:
        # Our tables, but alembic_version holds someone else's revision (a database shared with
        # Prefect overwrote ours): the tables were made by the first revision.
        ours = [ScriptDirectory.from_config(config).get_base()]
    if not ours:
        return
    connection.execute(text(f"CREATE TABLE {VERSION_TABLE} (version_num VARCHAR(32) NOT NULL, "
                            f"CONSTRAINT {VERSION_TABLE}_pkc PRIMARY KEY (version_num))"))
    for revision in ours:
        connection.execute(text(f"INSERT INTO {VERSION_TABLE} (version_num) VALUES (:r)"), {"r": revision})
    connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
