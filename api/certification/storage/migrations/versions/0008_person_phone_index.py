"""an index on persons.phone: every certification's look-alike screening reads the persons who
share the person's phone number (the household scope, api.certification.screening)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_persons_phone", "persons", ["phone"])


def downgrade() -> None:
    op.drop_index("ix_persons_phone", table_name="persons")
