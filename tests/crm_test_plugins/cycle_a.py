from crm_host import Plugin

plugin = Plugin(description="cycle a", depends=["cycle_b"])
