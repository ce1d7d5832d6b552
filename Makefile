# Two set-up commands for a new user (see README):
#   make run    installs the app in .venv and starts the web chat on seeds/
#   make test   installs the app with its test tools and runs the whole suite
PYTHON ?= python3
VENV := .venv
PIP := $(VENV)/bin/pip
export HF_HUB_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False

.PHONY: run test install install-test browser

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

install: $(VENV)/bin/python
	$(PIP) install --quiet torch==2.13.0 -e .

install-test: $(VENV)/bin/python
	$(PIP) install --quiet torch==2.13.0 -e ".[test]"

# Debian's chromium for the browser tests (Playwright cannot download its own browser offline).
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

run: install
	$(VENV)/bin/python app.py

test: install-test browser
	$(VENV)/bin/python -m pytest -q
