"""Models and migrations agree, and `crm db check` says when they do not."""

from sqlalchemy import Column, Integer, String, Table


def test_host_models_match_host_migrations(migration_drift, crm_cli):
    assert migration_drift("host") == []
    res = crm_cli("db", "check")
    assert res.exit_code == 0 and "host: models and migrations agree" in res.output


def test_db_check_names_a_missing_migration(crm_app, crm_cli):
    from crm_host.db import Base

    extra = Table("host_unmigrated", Base.metadata, Column("id", Integer, primary_key=True),
                  Column("name", String(20)))  # fmt: skip
    try:
        res = crm_cli("db", "check")
        assert res.exit_code == 1
        assert "host: needs a migration" in res.output and "host_unmigrated" in res.output
    finally:
        Base.metadata.remove(extra)
