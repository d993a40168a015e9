"""Storage: the object store (fsspec), the Parquet lake (pyarrow + DuckDB) and the catalog (SQLAlchemy)."""
