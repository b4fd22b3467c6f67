"""Hooks alpha publishes for plugins that build on it (H-5)."""

from crm_host import hookspec


@hookspec
def crm_alpha_badges(item):
    """Return short badge texts to show beside an alpha item."""
