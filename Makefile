# Two commands for a newcomer:  make demo   (install, fill with sample data, serve)
#                               make test   (install with test tools, run every test)
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
# Modules under plugins/, then the worked partner examples under examples/ (they depend on them).
PLUGINS = $(wildcard plugins/*/pyproject.toml) $(wildcard examples/*/pyproject.toml)

.PHONY: install install-test demo serve test test-postgres browser lint i18n clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q -e .
	@for p in $(dir $(PLUGINS)); do echo "installing $$p"; $(BIN)/pip install -q -e $$p || exit 1; done

install-test: $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	@for p in $(dir $(PLUGINS)); do echo "installing $$p"; $(BIN)/pip install -q -e $$p || exit 1; done

demo: install
	$(BIN)/crm db upgrade
	$(BIN)/crm demo
	$(BIN)/crm serve --host $(HOST) --port $(PORT)

serve: install
	$(BIN)/crm serve --host $(HOST) --port $(PORT)

browser:
	@command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || \
	  (echo "installing chromium for the browser tests"; \
	   (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null) \
	   || echo "could not install chromium: browser tests will be skipped")

test: install-test browser
	$(BIN)/python -m pytest -q

test-postgres: install-test browser
	CRM_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test $(BIN)/python -m pytest -q

lint: install-test
	$(BIN)/pip install -q ruff
	$(BIN)/ruff check crm_host tests bench

i18n:
	sh scripts/i18n.sh

clean:
	rm -rf $(VENV) instance .pytest_cache
