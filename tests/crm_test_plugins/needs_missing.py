from crm_host import Plugin

plugin = Plugin(description="needs a module nobody installed", depends=["nonexistent"])
