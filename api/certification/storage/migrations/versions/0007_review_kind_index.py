"""an index on reviews.kind: every certification reads the duplicate-reference reviews naming
its person (api.certification.duplicates.standing), which without it is a scan of every review

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_reviews_kind", "reviews", ["kind"])


def downgrade() -> None:
    op.drop_index("ix_reviews_kind", table_name="reviews")
