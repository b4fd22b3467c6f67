"""customers: expression indexes for the duplicate check

Revision ID: customers_0002
Revises: customers_0001
Create Date: 2026-11-24

The duplicate check (services.find_duplicates) looks customers up by normalised name and by
email in any case; without these indexes it scanned every customer and contact (1.3–1.9 s at
a million customers). models.py declares the same indexes, so autogenerate (and
`crm db check`) on PostgreSQL sees that nothing is missing.
"""

import sqlalchemy as sa
from alembic import op

revision = "customers_0002"
down_revision = "customers_0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_customers_customer_name_key",
        "customers_customer",
        [sa.text("lower(replace(name, ' ', ''))")],
    )
    op.create_index(
        "ix_customers_customer_email_lower", "customers_customer", [sa.text("lower(email)")]
    )
    op.create_index(
        "ix_customers_contact_email_lower", "customers_contact", [sa.text("lower(email)")]
    )


def downgrade():
    op.drop_index("ix_customers_contact_email_lower", table_name="customers_contact")
    op.drop_index("ix_customers_customer_email_lower", table_name="customers_customer")
    op.drop_index("ix_customers_customer_name_key", table_name="customers_customer")
