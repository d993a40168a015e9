"""The catalog's Alembic migrations on SQLite and on a real PostgreSQL: same code, same schema."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from storage.catalog import Base, Catalog, SessionStatus, User
from storage.migrations import VERSION_TABLE


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    return request.getfixturevalue("pg_url")


def test_migrations_reach_the_models_schema(catalog_url):
    catalog = Catalog(catalog_url)
    catalog.migrate()
    with catalog.engine.connect() as con:
        diff = compare_metadata(MigrationContext.configure(con, opts={"compare_type": True, "version_table": VERSION_TABLE}), Base.metadata)
        version = con.execute(text(f"select version_num from {VERSION_TABLE}")).scalar()
    # A model change without a migration fails here: add one under storage/migrations/versions.
    assert diff == [], f"models and migrations differ: {diff}"
    assert version is not None
    catalog.engine.dispose()


def test_same_catalog_code_on_both(catalog_url):
    catalog = Catalog(catalog_url)
    catalog.migrate()
    with catalog.session() as db:
        db.add(User(id="u-mig", email=f"u-mig-{catalog_url[:5]}@example.com", profile={"age": 40}))
    row = catalog.create_session(user_id="u-mig", content_sha256="ab" * 32, size_bytes=3 << 31,
                                 options={"joints": ["knee"]})
    catalog.update_session(row.id, status=SessionStatus.DONE, pipeline_version="v9")
    again = catalog.get_session(row.id)
    assert again.status == "done" and again.size_bytes == 3 << 31 and again.options == {"joints": ["knee"]}
    assert [r.id for r in catalog.find_by_hash("ab" * 32, user_id="u-mig")] == [row.id]
    catalog.engine.dispose()


def test_a_database_made_by_create_all_is_adopted(tmp_path):
    url = f"sqlite:///{tmp_path / 'legacy.db'}"
    legacy = Catalog(url)
    legacy.create_all()
    legacy.create_session(id="old")
    fresh = Catalog(url)
    fresh.migrate()
    assert fresh.get_session("old") is not None
    assert VERSION_TABLE in inspect(fresh.engine).get_table_names()


def _head() -> str:
    from alembic.script import ScriptDirectory

    from storage.catalog import MIGRATIONS_DIR, alembic_config

    assert MIGRATIONS_DIR.is_dir()
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def test_the_catalog_shares_a_database_with_another_alembic_user(catalog_url):
    """Prefect's server keeps its revision in alembic_version; the catalog keeps its own table."""
    from sqlalchemy import create_engine

    engine = create_engine(catalog_url)
    with engine.begin() as con:  # what `prefect server start` leaves in a shared database
        con.execute(text("create table alembic_version (version_num varchar(32) primary key)"))
        con.execute(text("insert into alembic_version values ('91e2b8f3d6a4')"))
    catalog = Catalog(catalog_url)
    catalog.migrate()
    catalog.create_session(id="shared")
    again = Catalog(catalog_url)   # a second process: no re-stamp, no "Can't locate revision"
    again.migrate()
    with engine.connect() as con:
        assert con.execute(text("select version_num from alembic_version")).scalars().all() == ["91e2b8f3d6a4"]
        assert con.execute(text(f"select version_num from {VERSION_TABLE}")).scalars().all() == [_head()]
    assert again.get_session("shared") is not None
    for c in (catalog, again):
        c.engine.dispose()
    engine.dispose()


def test_a_catalog_migrated_into_alembic_version_is_adopted(tmp_path):
    url = f"sqlite:///{tmp_path / 'before.db'}"
    legacy = Catalog(url)
    legacy.create_all()
    legacy.create_session(id="kept")
    with legacy.engine.begin() as con:  # how catalogs were migrated before VERSION_TABLE
        con.execute(text("create table alembic_version (version_num varchar(32) primary key)"))
        con.execute(text(f"insert into alembic_version values ('{_head()}')"))
    fresh = Catalog(url)
    fresh.migrate()
    with fresh.engine.connect() as con:
        assert con.execute(text(f"select version_num from {VERSION_TABLE}")).scalars().all() == [_head()]
    assert fresh.get_session("kept") is not None


def test_settings_switch_the_catalog_to_postgresql(scale_settings, pg_url):
    catalog = Catalog.from_settings(scale_settings)
    assert catalog.engine.dialect.name == "postgresql"
    assert "sessions" in inspect(catalog.engine).get_table_names()
    catalog.engine.dispose()
