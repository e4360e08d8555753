"""audit chain head: one row that every append updates first, so appends are serialised

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    bind = op.get_bind()
    last = bind.execute(sa.text("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1")).scalar()
    count = bind.execute(sa.text("SELECT count(*) FROM audit_log")).scalar() or 0
    bind.execute(
        sa.text("INSERT INTO audit_chain_head (id, entries, last_hash) VALUES (1, :n, :h)"),
        {"n": count, "h": last or GENESIS},
    )


def downgrade() -> None:
    op.drop_table("audit_chain_head")
