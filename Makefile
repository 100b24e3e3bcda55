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

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q -n auto --maxprocesses=4 --dist loadgroup tests

bench: $(BIN)/.installed
	$(BIN)/python bench/forward.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
