"""Small plugins that prove the host's contract in tests (not product modules)."""

GOOD = {"alpha": "crm_test_plugins.alpha.plugin", "beta": "crm_test_plugins.beta"}


def plugins(*names, **extra):
    """CRM_EXTRA_PLUGINS for a test: named test plugins (module crm_test_plugins.<name>)."""
    out = {n: GOOD.get(n, f"crm_test_plugins.{n}") for n in names}
    out.update(extra)
    return out
