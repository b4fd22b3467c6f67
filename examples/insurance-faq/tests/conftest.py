"""insurance-faq tests. They run from the repository root (``pytest``) or from this plugin's
folder (``cd examples/insurance-faq && pytest``), on a fresh database per test."""


def pytest_configure(config):
    # Registered here too, so the markers are known when pytest picks this plugin's
    # pyproject.toml as its configuration (running from the plugin's folder).
    config.addinivalue_line("markers", "slow: starts extra processes (here: builds the wheel)")
    config.addinivalue_line("markers", "browser: drives headless Chromium")
