"""service: covering indexes for the department, resolution-time, service-level and
satisfaction reports

Revision ID: service_0002
Revises: service_0001
Create Date: 2026-11-24 22:00:00
"""

from alembic import op

revision = "service_0002"
down_revision = "service_0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("service_ticket", schema=None) as batch_op:
        batch_op.drop_index("ix_service_ticket_department")
        batch_op.create_index(
            "ix_service_ticket_department",
            ["department_id", "status", "open_due_at", "owner_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_service_ticket_resolved",
            ["resolved_at", "kind", "owner_id", "department_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_service_ticket_sla",
            [
                "created_at",
                "kind",
                "owner_id",
                "department_id",
                "responded_at",
                "response_due_at",
                "resolved_at",
                "resolution_due_at",
                "response_escalated_at",
                "resolution_escalated_at",
            ],
            unique=False,
        )

    with op.batch_alter_table("service_survey", schema=None) as batch_op:
        batch_op.drop_index("ix_service_survey_answered")
        batch_op.create_index(
            "ix_service_survey_answered",
            ["answered_at", "agent_id", "department_id", "category_id", "score"],
            unique=False,
        )


def downgrade():
    with op.batch_alter_table("service_survey", schema=None) as batch_op:
        batch_op.drop_index("ix_service_survey_answered")
        batch_op.create_index("ix_service_survey_answered", ["answered_at", "score"], unique=False)
    with op.batch_alter_table("service_ticket", schema=None) as batch_op:
        batch_op.drop_index("ix_service_ticket_sla")
        batch_op.drop_index("ix_service_ticket_resolved")
        batch_op.drop_index("ix_service_ticket_department")
        batch_op.create_index(
            "ix_service_ticket_department", ["department_id", "status"], unique=False
        )
