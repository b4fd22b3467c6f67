from crm_host import hookimpl  # noqa: F401  (no `plugin = Plugin(...)` on purpose)
