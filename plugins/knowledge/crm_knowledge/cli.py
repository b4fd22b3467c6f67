"""``crm knowledge packs list|install|upgrade NAME``."""

from __future__ import annotations

import click

from crm_host.db import database


@click.group("knowledge", help="Knowledge base: packs of ready-made articles.")
def cli():
    pass


@cli.group("packs", help="Knowledge packs contributed by installed plugins.")
def packs_group():
    pass


@packs_group.command("list")
def packs_list():
    """The packs enabled plugins contribute and what is installed."""
    from .models import PackInstall
    from .packs import load_packs

    with database().session_scope() as s:
        installed = {p.name: p.version for p in s.query(PackInstall)}
        found, errors = load_packs()
        for owner, message in errors:
            click.echo(f"refused (plugin {owner}): {message}", err=True)
        if not found and not installed and not errors:
            click.echo("No knowledge packs (enable a plugin that contributes one).")
        for name, pack in sorted(found.items()):
            have = installed.get(name)
            state = "not installed" if have is None else f"installed {have}"
            if have is not None and pack.parsed_version > _v(have):
                state += f", upgrade available to {pack.version}"
            click.echo(f"{name}\t{pack.version}\t{state}\t{pack.label('en')}")
        for name, version in sorted(installed.items()):
            if name not in found:
                why = (
                    "its plugin is off, or its new release was refused (see above)"
                    if errors
                    else "its plugin is not enabled"
                )
                click.echo(f"{name}\t-\tinstalled {version} ({why})")


def _v(text):
    from packaging.version import Version

    return Version(text)


def _apply(name: str, upgrade: bool):
    from .packs import PackError, install, load_packs

    found, errors = load_packs()
    pack = found.get(name)
    if pack is None:
        refused = "".join(f"\nRefused (plugin {o}): {m}" for o, m in errors)
        raise click.ClickException(
            f"No pack named '{name}'. Available: {', '.join(sorted(found)) or 'none'}.{refused}"
        )
    with database().session_scope() as s:
        try:
            report = install(s, pack, actor="cli", upgrade=upgrade)
        except PackError as exc:
            s.rollback()
            raise click.ClickException(str(exc)) from None
        s.commit()
    for line in report.lines():
        click.echo(line)


@packs_group.command("install")
@click.argument("name")
def packs_install(name):
    """Install pack NAME (nothing changes when it is installed already)."""
    _apply(name, upgrade=False)


@packs_group.command("upgrade")
@click.argument("name")
def packs_upgrade(name):
    """Upgrade pack NAME to the version its plugin ships (local edits are kept)."""
    _apply(name, upgrade=True)
