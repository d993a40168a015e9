"""Alembic environment: the catalog's metadata; the URL comes from the caller (Catalog.migrate) or settings."""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, text

from storage.catalog import Base

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
                      render_as_batch=True, compare_type=True)
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
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=True, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
        if connection.in_transaction():
            connection.commit()
    finally:
        if postgres:
            connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK})
            connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
