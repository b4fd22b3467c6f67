"""Hook implementations of insurance_faq: it contributes one knowledge pack and nothing else.

The pack itself is data (``pack/pack.toml`` and ``pack/articles/*.md``), shipped inside the
package. The knowledge module reads it when an administrator runs
``crm knowledge packs install insurance-faq`` (or presses Install on its admin screen).
"""

from importlib.resources import files

from crm_knowledge.packs import KnowledgePack

from crm_host import Plugin, hookimpl

plugin = Plugin(
    description="Insurance FAQ knowledge pack (claims, policy clauses, premiums, common questions)",
    depends=["knowledge"],
    requires_host=">=1.0,<2",
)


@hookimpl
def crm_knowledge_packs():
    return [KnowledgePack.from_directory(files(__package__) / "pack")]
