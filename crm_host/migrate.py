"""Per-plugin Alembic migrations.

Each plugin (and the host itself) has its own Alembic script directory and its own version
table ``alembic_version_<name>``, as Indico does: removing one plugin's distribution can never
leave Alembic unable to resolve another's revisions, and autogenerate only ever looks at the
tables with the plugin's prefix.

A plugin's ``migrations/env.py`` is two lines::

    from crm_host.migrate import run_env
    run_env()
"""

from __future__ import annotations

import warnings
from pathlib import Path

from alembic import command, context
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from .db import Base

HOST_SCRIPTS = Path(__file__).parent / "alembic"


def version_table(name: str) -> str:
    return f"alembic_version_{name}"


def owns(table: str, prefix: str, others=()) -> bool:
    """Whether ``table`` belongs to the plugin with ``prefix``: a plugin ``sales`` must not
    claim ``sales_report_x`` when a plugin ``sales_report`` is installed too."""
    if not table.startswith(prefix):
        return False
    return not any(
        len(o) > len(prefix) and o.startswith(prefix) and table.startswith(o) for o in others
    )


def _config(name: str, script_location: Path, prefix: str, connection=None, others=()) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.attributes["crm_name"] = name
    cfg.attributes["crm_prefix"] = prefix
    cfg.attributes["crm_other_prefixes"] = tuple(others)
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def include_filter(prefix: str, others=()):
    """Alembic's ``include_object`` for one plugin: its own tables and their indexes only."""

    def include_object(obj, obj_name, type_, reflected, compare_to):
        # Full-text objects a plugin manages by hand (FTS5 tables, tsvector columns and their
        # indexes) have no model; autogenerate must not propose dropping them.
        if (
            reflected
            and compare_to is None
            and ("_fts" in (obj_name or "") or "search_vector" in (obj_name or ""))
        ):
            return False
        if type_ == "table":
            return owns(obj_name, prefix, others)
        table = getattr(obj, "table", None)
        if table is not None:
            return owns(table.name, prefix, others)
        return True

    return include_object


def run_env() -> None:
    """Body of every env.py: online migrations on the connection the host hands over."""
    cfg = context.config
    name = cfg.attributes["crm_name"]
    prefix = cfg.attributes["crm_prefix"]
    others = cfg.attributes.get("crm_other_prefixes", ())
    connection = cfg.attributes["connection"]

    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=version_table(name),
        include_object=include_filter(prefix, others),
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def upgrade(engine, name: str, script_location: Path, prefix: str, revision: str = "heads"):
    with engine.begin() as conn:
        command.upgrade(_config(name, script_location, prefix, conn), revision)


def downgrade(engine, name: str, script_location: Path, prefix: str, revision: str):
    with engine.begin() as conn:
        command.downgrade(_config(name, script_location, prefix, conn), revision)


def revision(
    engine,
    name: str,
    script_location: Path,
    prefix: str,
    message: str,
    autogenerate: bool = True,
    others=(),
):
    with engine.begin() as conn:
        return command.revision(
            _config(name, script_location, prefix, conn, others),
            message=message,
            autogenerate=autogenerate,
        )


def drift(engine, prefix: str, others=()) -> list:
    """What autogenerate would write for the plugin owning ``prefix``: the differences between
    its models and the migrated database (an empty list when migrations and models agree)."""
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn,
            opts={
                "include_object": include_filter(prefix, others),
                "compare_type": True,
                "target_metadata": Base.metadata,
            },
        )
        with warnings.catch_warnings():
            # SQLite cannot reflect expression indexes; SQLAlchemy and Alembic say so once per
            # index. PostgreSQL compares them, and CI runs there too.
            warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified")
            warnings.filterwarnings("ignore", "Skipped unsupported reflection")
            return compare_metadata(ctx, Base.metadata)


def drift_of(engine, host, name: str) -> list:
    """:func:`drift` for ``name`` (a plugin, or ``"host"``) among the installed plugins of
    ``host`` (a :class:`crm_host.plugins.PluginHost`)."""
    prefixes = {n: lp.table_prefix for n, lp in host.plugins.items()}
    prefixes["host"] = "host_"
    prefix = prefixes[name]
    return drift(engine, prefix, [p for n, p in prefixes.items() if n != name and p != prefix])


def current_heads(engine, name: str) -> tuple[str, ...]:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": version_table(name)})
        return tuple(ctx.get_current_heads())


def script_heads(script_location: Path) -> tuple[str, ...]:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    return tuple(ScriptDirectory.from_config(cfg).get_heads())


def upgrade_host(engine) -> None:
    upgrade(engine, "host", HOST_SCRIPTS, "host_")


def upgrade_plugin(engine, lp) -> None:
    """Migrate one plugin to its newest revision (nothing to do if it ships no migrations)."""
    if lp.migrations_dir is not None:
        upgrade(engine, lp.name, lp.migrations_dir, lp.table_prefix)


def drop_plugin_tables(engine, lp, others=()) -> list[str]:
    """Drop every table the plugin owns, and its version table (purge). ``others``: the
    table prefixes of the other installed plugins (see :func:`owns`)."""
    with engine.begin() as conn:
        insp = inspect(conn)
        names = [t for t in insp.get_table_names() if owns(t, lp.table_prefix, others)]
        # Drop in reverse dependency order of what the database itself knows.
        ordered = []
        for t in [t for t, _ in insp.get_sorted_table_and_fkc_names() if t][::-1]:
            if t in names:
                ordered.append(t)
        for t in ordered:
            conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{t}"')
        vt = version_table(lp.name)
        conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{vt}"')
    return ordered
