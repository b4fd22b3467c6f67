from crm_host import Plugin

plugin = Plugin(description="needs a newer host", requires_host=">=2.0")
