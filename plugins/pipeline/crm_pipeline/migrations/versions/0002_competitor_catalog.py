"""pipeline: a deal's competitor can refer to a catalogue profile (crm_competitor_catalog)

Revision ID: pipeline_0002
Revises: pipeline_0001
Create Date: 2026-11-24 21:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "pipeline_0002"
down_revision = "pipeline_0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("pipeline_competitor") as batch:
        batch.add_column(sa.Column("catalog_key", sa.String(length=80), nullable=True))
        batch.add_column(sa.Column("catalog_url", sa.String(length=500), nullable=True))


def downgrade():
    with op.batch_alter_table("pipeline_competitor") as batch:
        batch.drop_column("catalog_url")
        batch.drop_column("catalog_key")
