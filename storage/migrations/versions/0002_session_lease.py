"""session lease: attempts, lease owner and expiry (the catalog is the processing queue)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A catalog adopted from ``create_all`` (stamped at 0001) may already have these.
    inspector = sa.inspect(op.get_bind())
    columns = {c["name"] for c in inspector.get_columns("sessions")}
    indexes = {i["name"] for i in inspector.get_indexes("sessions")}
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        if "attempts" not in columns:
            batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        if "lease_owner" not in columns:
            batch_op.add_column(sa.Column("lease_owner", sa.String(length=200), nullable=True))
        if "lease_expires_at" not in columns:
            batch_op.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
        if "ix_sessions_status_created" not in indexes:
            batch_op.create_index("ix_sessions_status_created", ["status", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_sessions_status_created")
        batch_op.drop_column("lease_expires_at")
        batch_op.drop_column("lease_owner")
        batch_op.drop_column("attempts")
