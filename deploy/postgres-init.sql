-- Runs once, when the PostgreSQL volume is created (docker-entrypoint-initdb.d).
-- Prefect's server gets its own database: the catalog (POSTGRES_DB=gaitlake) and
-- Prefect both keep an Alembic schema, and must never share one database.
CREATE DATABASE prefect OWNER gaitlake;
