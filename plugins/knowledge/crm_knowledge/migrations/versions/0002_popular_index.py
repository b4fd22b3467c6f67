"""knowledge: index for the help center's popular questions

Revision ID: knowledge_0002
Revises: knowledge_0001
Create Date: 2026-11-24 21:45:00
"""

from alembic import op

revision = "knowledge_0002"
down_revision = "knowledge_0001"
branch_labels = None
depends_on = None


def upgrade():
    # A plain CREATE INDEX (no batch: a rebuilt table would lose the FTS5 triggers).
    op.create_index(
        "ix_knowledge_article_popular",
        "knowledge_article",
        ["status", "visibility", "view_count", "id"],
        unique=False,
    )


def downgrade():
    op.drop_index("ix_knowledge_article_popular", table_name="knowledge_article")
