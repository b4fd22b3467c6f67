"""customers: customers, contacts, categories, phones, tags, timeline, saved filters, search

Revision ID: customers_0001
Revises:
Create Date: 2026-11-24 15:31:10.211308
"""

import sqlalchemy as sa
from alembic import op
from crm_customers.fulltext import drop_search, install_search
from crm_customers.services import DEFAULT_CATEGORIES

import crm_host.db

revision = "customers_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "customers_category",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers_category")),
        sa.UniqueConstraint("code", name=op.f("uq_customers_category_code")),
    )
    op.create_table(
        "customers_setting",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_customers_setting")),
    )
    op.create_table(
        "customers_customer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("short_name", sa.String(length=80), nullable=True),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("grade", sa.String(length=1), nullable=True),
        sa.Column("lifecycle", sa.String(length=16), nullable=False),
        sa.Column("industry", sa.String(length=80), nullable=True),
        sa.Column("region", sa.String(length=80), nullable=True),
        sa.Column("province", sa.String(length=80), nullable=True),
        sa.Column("city", sa.String(length=80), nullable=True),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("postal_code", sa.String(length=20), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("fax", sa.String(length=40), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("website", sa.String(length=300), nullable=True),
        sa.Column("source", sa.String(length=80), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("credit_rating", sa.String(length=20), nullable=True),
        sa.Column("tax_id", sa.String(length=40), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("revenue", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("graded_at", crm_host.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", crm_host.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", crm_host.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", crm_host.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["customers_category.id"],
            name=op.f("fk_customers_customer_category_id_customers_category"),
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["host_department.id"],
            name=op.f("fk_customers_customer_department_id_host_department"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["host_user.id"], name=op.f("fk_customers_customer_owner_id_host_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers_customer")),
        sa.UniqueConstraint("code", name=op.f("uq_customers_customer_code")),
    )
    with op.batch_alter_table("customers_customer", schema=None) as batch_op:
        batch_op.create_index(
            "ix_customers_customer_category_region", ["category_id", "region", "id"], unique=False
        )
        batch_op.create_index(
            "ix_customers_customer_department", ["department_id", "id"], unique=False
        )
        batch_op.create_index("ix_customers_customer_email", ["email"], unique=False)
        batch_op.create_index("ix_customers_customer_grade", ["grade", "id"], unique=False)
        batch_op.create_index("ix_customers_customer_name", ["name"], unique=False)
        batch_op.create_index(
            "ix_customers_customer_owner_live", ["owner_id", "deleted_at", "id"], unique=False
        )

    op.create_table(
        "customers_saved_filter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("query", sa.JSON(), nullable=False),
        sa.Column("created_at", crm_host.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["host_user.id"],
            name=op.f("fk_customers_saved_filter_user_id_host_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers_saved_filter")),
    )
    with op.batch_alter_table("customers_saved_filter", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customers_saved_filter_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "customers_contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=True),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("department", sa.String(length=120), nullable=True),
        sa.Column("title", sa.String(length=120), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("mobile", sa.String(length=40), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("birthday", sa.Date(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("deleted_at", crm_host.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", crm_host.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", crm_host.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers_customer.id"],
            name=op.f("fk_customers_contact_customer_id_customers_customer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers_contact")),
    )
    with op.batch_alter_table("customers_contact", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customers_contact_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "customers_customer_tag",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers_customer.id"],
            name=op.f("fk_customers_customer_tag_customer_id_customers_customer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_id", "tag", name=op.f("pk_customers_customer_tag")),
    )
    with op.batch_alter_table("customers_customer_tag", schema=None) as batch_op:
        batch_op.create_index("ix_customers_customer_tag_tag", ["tag", "customer_id"], unique=False)

    op.create_table(
        "customers_timeline",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("at", crm_host.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("module", sa.String(length=32), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers_customer.id"],
            name=op.f("fk_customers_timeline_customer_id_customers_customer"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["host_user.id"],
            name=op.f("fk_customers_timeline_user_id_host_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers_timeline")),
    )
    with op.batch_alter_table("customers_timeline", schema=None) as batch_op:
        batch_op.create_index(
            "ix_customers_timeline_customer_at", ["customer_id", "at"], unique=False
        )

    op.create_table(
        "customers_phone",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("e164", sa.String(length=20), nullable=False),
        sa.Column("digits_rev", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["customers_contact.id"],
            name=op.f("fk_customers_phone_contact_id_customers_contact"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers_customer.id"],
            name=op.f("fk_customers_phone_customer_id_customers_customer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers_phone")),
    )
    with op.batch_alter_table("customers_phone", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customers_phone_contact_id"), ["contact_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_customers_phone_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_customers_phone_digits_rev"), ["digits_rev"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_customers_phone_e164"), ["e164"], unique=False)

    install_search(op)
    op.bulk_insert(
        sa.table(
            "customers_category",
            sa.column("code", sa.String),
            sa.column("name", sa.String),
            sa.column("position", sa.Integer),
            sa.column("is_active", sa.Boolean),
            sa.column("version", sa.Integer),
        ),
        [
            {"code": code, "name": name, "position": (i + 1) * 10, "is_active": True, "version": 1}
            for i, (code, name) in enumerate(DEFAULT_CATEGORIES)
        ],
    )


def downgrade():
    drop_search(op)
    with op.batch_alter_table("customers_phone", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_phone_e164"))
        batch_op.drop_index(batch_op.f("ix_customers_phone_digits_rev"))
        batch_op.drop_index(batch_op.f("ix_customers_phone_customer_id"))
        batch_op.drop_index(batch_op.f("ix_customers_phone_contact_id"))

    op.drop_table("customers_phone")
    with op.batch_alter_table("customers_timeline", schema=None) as batch_op:
        batch_op.drop_index("ix_customers_timeline_customer_at")

    op.drop_table("customers_timeline")
    with op.batch_alter_table("customers_customer_tag", schema=None) as batch_op:
        batch_op.drop_index("ix_customers_customer_tag_tag")

    op.drop_table("customers_customer_tag")
    with op.batch_alter_table("customers_contact", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_contact_customer_id"))

    op.drop_table("customers_contact")
    with op.batch_alter_table("customers_saved_filter", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_saved_filter_user_id"))

    op.drop_table("customers_saved_filter")
    with op.batch_alter_table("customers_customer", schema=None) as batch_op:
        batch_op.drop_index("ix_customers_customer_owner_live")
        batch_op.drop_index("ix_customers_customer_name")
        batch_op.drop_index("ix_customers_customer_grade")
        batch_op.drop_index("ix_customers_customer_email")
        batch_op.drop_index("ix_customers_customer_department")
        batch_op.drop_index("ix_customers_customer_category_region")

    op.drop_table("customers_customer")
    op.drop_table("customers_setting")
    op.drop_table("customers_category")
