"""Hooks the knowledge module publishes for other plugins.

Implement them in your plugin and declare ``depends=["knowledge"]`` (or mark the
implementation ``@hookimpl(optionalhook=True)`` when knowledge is optional for you).
"""

from crm_host import hookspec


@hookspec
def crm_knowledge_packs():
    """Knowledge packs this plugin contributes (a vertical's ready-made articles).

    :returns: a list of :class:`crm_knowledge.packs.KnowledgePack`, usually
        ``[KnowledgePack.from_directory(importlib.resources.files(__package__) / "pack")]``.
        A pack is installed only when an administrator asks (``crm knowledge packs install
        NAME`` or Administration → Knowledge packs); upgrading to a higher ``version`` never
        overwrites an article someone edited locally. See :mod:`crm_knowledge.packs` for
        the directory format.
    """
