from crm_host import Plugin

plugin = Plugin(description="cycle b", depends=["cycle_a"])
