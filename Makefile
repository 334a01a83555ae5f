# CryptoSatX: `make run` brings up everything on the embedded defaults; `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test install migrate clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed

migrate: install
	$(PY) manage.py migrate --noinput

# Web on http://127.0.0.1:8000, the q cluster with its scheduler, and the market simulator;
# Ctrl-C stops all of them.
run: migrate
	$(PY) manage.py ensure_admin
	$(PY) scripts/run.py

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache
