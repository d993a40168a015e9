"""Prefect flows: process one session, and (later) ingest, reprocess, compact."""
