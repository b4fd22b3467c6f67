"""Host tables: modules, people, permissions, audit, numbering, outbox, jobs

Revision ID: 838ab284091e
Revises:
Create Date: 2026-11-24 14:45:12.254306
"""

import sqlalchemy as sa
from alembic import op

import crm_host.db

revision = "838ab284091e"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "host_department",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("leader_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["host_department.id"],
            name=op.f("fk_host_department_parent_id_host_department"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_host_department")),
        sa.UniqueConstraint("parent_id", "name", name=op.f("uq_host_department_parent_id")),
    )
    op.create_table(
        "host_job",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("next_run_at", crm_host.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_run_at", crm_host.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lease_until", crm_host.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.String(length=16), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_host_job")),
    )
    op.create_table(
        "host_known_permission",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("module", sa.String(length=64), nullable=False),
        sa.Column("first_seen", crm_host.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_host_known_permission")),
    )
    op.create_table(
        "host_login_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("at", crm_host.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_host_login_attempt")),
    )
    with op.batch_alter_table("host_login_attempt", schema=None) as batch_op:
        batch_op.create_index("ix_host_login_attempt_email_at", ["email", "at"], unique=False)
        batch_op.create_index("ix_host_login_attempt_ip_at", ["ip", "at"], unique=False)

    op.create_table(
        "host_module",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_kind", sa.String(length=16), nullable=True),
        sa.Column("changed_at", crm_host.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_host_module")),
    )
    op.create_table(
        "host_number_sequence",
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "period", name=op.f("pk_host_number_sequence")),
    )
    op.create_table(
        "host_numbering_rule",
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("pattern", sa.String(length=120), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_host_numbering_rule")),
    )
    op.create_table(
        "host_role",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("is_superuser", sa.Boolean(), nullable=False),
        sa.Column("builtin", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_host_role")),
        sa.UniqueConstraint("name", name=op.f("uq_host_role_name")),
    )
    op.create_table(
        "host_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_host_state")),
    )
    op.create_table(
        "host_role_permission",
        sa.Column("role_id", sa.Integer(), nullable=False),
        sa.Column("permission", sa.String(length=128), nullable=False),
        sa.Column("effect", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["role_id"],
            ["host_role.id"],
            name=op.f("fk_host_role_permission_role_id_host_role"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("role_id", "permission", name=op.f("pk_host_role_permission")),
    )
    op.create_table(
        "host_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=True),
        sa.Column("phone", sa.String(length=64), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("supervisor_id", sa.Integer(), nullable=True),
        sa.Column("session_epoch", sa.Integer(), nullable=False),
        sa.Column("last_login_at", crm_host.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", crm_host.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", crm_host.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["host_department.id"],
            name=op.f("fk_host_user_department_id_host_department"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["supervisor_id"],
            ["host_user.id"],
            name=op.f("fk_host_user_supervisor_id_host_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_host_user")),
        sa.UniqueConstraint("email", name=op.f("uq_host_user_email")),
    )
    with op.batch_alter_table("host_user", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_host_user_department_id"), ["department_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_host_user_supervisor_id"), ["supervisor_id"], unique=False
        )

    # Departments and users point at each other; the leader link is added once both exist.
    with op.batch_alter_table("host_department") as batch:
        batch.create_foreign_key(
            op.f("fk_host_department_leader_id_host_user"),
            "host_user",
            ["leader_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_table(
        "host_api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", crm_host.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", crm_host.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", crm_host.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", crm_host.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["host_user.id"],
            name=op.f("fk_host_api_token_user_id_host_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_host_api_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_host_api_token_token_hash")),
    )
    with op.batch_alter_table("host_api_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_host_api_token_user_id"), ["user_id"], unique=False)

    op.create_table(
        "host_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", crm_host.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=255), nullable=True),
        sa.Column("entity", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["host_user.id"],
            name=op.f("fk_host_audit_user_id_host_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_host_audit")),
    )
    with op.batch_alter_table("host_audit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_host_audit_at"), ["at"], unique=False)
        batch_op.create_index(
            "ix_host_audit_entity_record", ["entity", "record_id", "at"], unique=False
        )

    op.create_table(
        "host_notification_pref",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["host_user.id"],
            name=op.f("fk_host_notification_pref_user_id_host_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "user_id", "kind", "channel", name=op.f("pk_host_notification_pref")
        ),
    )
    op.create_table(
        "host_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=True),
        sa.Column("address", sa.String(length=255), nullable=True),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", crm_host.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_until", crm_host.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=120), nullable=True),
        sa.Column("created_at", crm_host.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", crm_host.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["host_user.id"],
            name=op.f("fk_host_outbox_recipient_id_host_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_host_outbox")),
    )
    with op.batch_alter_table("host_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_host_outbox_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_host_outbox_recipient_id"), ["recipient_id"], unique=False
        )

    op.create_table(
        "host_user_role",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["role_id"],
            ["host_role.id"],
            name=op.f("fk_host_user_role_role_id_host_role"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["host_user.id"],
            name=op.f("fk_host_user_role_user_id_host_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "role_id", name=op.f("pk_host_user_role")),
    )
    op.create_table(
        "host_delivery_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("at", crm_host.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("worker", sa.String(length=120), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["host_outbox.id"],
            name=op.f("fk_host_delivery_attempt_outbox_id_host_outbox"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_host_delivery_attempt")),
    )
    with op.batch_alter_table("host_delivery_attempt", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_host_delivery_attempt_outbox_id"), ["outbox_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("host_department") as batch:
        batch.drop_constraint(op.f("fk_host_department_leader_id_host_user"), type_="foreignkey")
    with op.batch_alter_table("host_delivery_attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_host_delivery_attempt_outbox_id"))

    op.drop_table("host_delivery_attempt")
    op.drop_table("host_user_role")
    with op.batch_alter_table("host_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_host_outbox_recipient_id"))
        batch_op.drop_index("ix_host_outbox_due")

    op.drop_table("host_outbox")
    op.drop_table("host_notification_pref")
    with op.batch_alter_table("host_audit", schema=None) as batch_op:
        batch_op.drop_index("ix_host_audit_entity_record")
        batch_op.drop_index(batch_op.f("ix_host_audit_at"))

    op.drop_table("host_audit")
    with op.batch_alter_table("host_api_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_host_api_token_user_id"))

    op.drop_table("host_api_token")
    with op.batch_alter_table("host_user", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_host_user_supervisor_id"))
        batch_op.drop_index(batch_op.f("ix_host_user_department_id"))

    op.drop_table("host_user")
    op.drop_table("host_role_permission")
    op.drop_table("host_state")
    op.drop_table("host_role")
    op.drop_table("host_numbering_rule")
    op.drop_table("host_number_sequence")
    op.drop_table("host_module")
    with op.batch_alter_table("host_login_attempt", schema=None) as batch_op:
        batch_op.drop_index("ix_host_login_attempt_ip_at")
        batch_op.drop_index("ix_host_login_attempt_email_at")

    op.drop_table("host_login_attempt")
    op.drop_table("host_known_permission")
    op.drop_table("host_job")
    op.drop_table("host_department")
