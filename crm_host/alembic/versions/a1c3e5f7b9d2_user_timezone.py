"""host_user.timezone: each user reads times in their own zone

Revision ID: a1c3e5f7b9d2
Revises: 838ab284091e
Create Date: 2026-11-24 19:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "a1c3e5f7b9d2"
down_revision = "838ab284091e"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("host_user") as batch:
        batch.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table("host_user") as batch:
        batch.drop_column("timezone")
