"""remote forms: the scan is kept (encrypted) for the second reviewer; who opened a review;
which client a proxy was registered through

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

CREATOR_FK = "fk_reviews_created_by_clients"
REGISTRAR_FK = "fk_proxies_registered_by_clients"


def upgrade() -> None:
    with op.batch_alter_table("proxies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("registered_by", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(REGISTRAR_FK, "clients", ["registered_by"], ["id"])
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.add_column(sa.Column("created_by", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(CREATOR_FK, "clients", ["created_by"], ["id"])
    op.create_table(
        "review_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(length=30), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["review_id"], ["reviews.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("review_documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_documents_review_id"), ["review_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("review_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_documents_review_id"))
    op.drop_table("review_documents")
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_constraint(CREATOR_FK, type_="foreignkey")
        batch_op.drop_column("created_by")
    with op.batch_alter_table("proxies", schema=None) as batch_op:
        batch_op.drop_constraint(REGISTRAR_FK, type_="foreignkey")
        batch_op.drop_column("registered_by")
