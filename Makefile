# seqctl: `make demo` runs the main job on the example playbooks, `make test` runs the suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO   ?= .demo

.PHONY: demo test lint bench docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test,docs,postgres]'
	touch $@

demo: $(VENV)/.installed
	rm -rf $(DEMO) && mkdir -p $(DEMO)
	bash bench/demo.sh $(BIN)/seqctl $(DEMO)

# Mermaid's self-contained script, to check in Chromium that `seqctl graph` output renders.
.cache/mermaid.min.js:
	-@mkdir -p .cache && cd .cache && npm pack --silent mermaid@11 >/dev/null 2>&1 \
	  && tar xzf mermaid-*.tgz package/dist/mermaid.min.js && mv package/dist/mermaid.min.js . \
	  && rm -rf package mermaid-*.tgz \
	  || echo "mermaid not fetched: the diagram rendering test will be skipped"

test: $(VENV)/.installed .cache/mermaid.min.js
	-@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "chromium not installed: the report's browser test will be skipped"; }
	-@command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ] || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq dovecot-imapd >/dev/null) || echo "dovecot not installed: the IMAP tests of inbox sync will be skipped"; }
	-@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq postgresql >/dev/null) || echo "postgresql not installed: the PostgreSQL half of the tests will be skipped"; }
	$(BIN)/ruff check seqctl tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest --cov --cov-branch --cov-report=term --cov-fail-under=85
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --clean --site-dir .cache/site

lint: $(VENV)/.installed
	$(BIN)/ruff check seqctl tests bench
	$(BIN)/ruff format --check seqctl tests bench
	$(BIN)/mypy
	$(BIN)/seqctl lint playbooks

# The documentation site at http://127.0.0.1:8000, rebuilt as pages change.
docs: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

bench: $(VENV)/.installed
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) $(DEMO) build site *.egg-info .pytest_cache .mypy_cache .coverage
