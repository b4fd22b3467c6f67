"""alpha item

Revision ID: a1
Revises:
"""

import sqlalchemy as sa
from alembic import op

import crm_host.db

revision = "a1"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "alpha_item",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column(
            "owner_id",
            sa.Integer(),
            sa.ForeignKey("host_user.id", name="fk_alpha_item_owner_id_host_user"),
            nullable=False,
        ),
        sa.Column(
            "department_id",
            sa.Integer(),
            sa.ForeignKey("host_department.id", name="fk_alpha_item_department_id_host_department"),
            nullable=True,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", crm_host.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", crm_host.db.UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("code", name="uq_alpha_item_code"),
    )
    op.create_index("ix_alpha_item_owner_id", "alpha_item", ["owner_id"])


def downgrade():
    op.drop_table("alpha_item")
