"""payment runs record the suspensions they make

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

RUN_FK = "fk_payment_events_run_id_payment_runs"


def upgrade() -> None:
    op.create_table(
        "payment_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("month"),
    )
    with op.batch_alter_table("payment_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("run_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_payment_events_run_id"), ["run_id"], unique=False)
        batch_op.create_foreign_key(RUN_FK, "payment_runs", ["run_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("payment_events", schema=None) as batch_op:
        batch_op.drop_constraint(RUN_FK, type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_payment_events_run_id"))
        batch_op.drop_column("run_id")
    op.drop_table("payment_runs")
