# Two entry points, each of which sets up a fresh machine first:
#   make demo   - the main job on the embedded default
#   make test   - the test suite (what .ci/run calls)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test bench clean

$(BIN)/.installed: setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/enformer-demo

# One pytest-xdist worker more than cores (at most 5): the workers spend
# about 15 % of their time waiting on the CLIs they start and on files
# (2026-12-05: 1.7 of 2 cores busy with one per core).
WORKERS ?= $(shell $(PYTHON) -c "import os; print(min((os.cpu_count() or 1) + 1, 5))")

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q -n $(WORKERS) --dist loadgroup tests

bench: $(BIN)/.installed
	$(BIN)/python bench/forward.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
