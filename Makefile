# Two set-up commands for a new user (see README):
#   make run    installs the app in .venv and starts the web chat on seeds/
#   make test   installs the app with its test tools and runs the whole suite
PYTHON ?= python3
VENV := .venv
PIP := $(VENV)/bin/pip
export HF_HUB_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False

.PHONY: run test install install-test system

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

install: $(VENV)/bin/python
	$(PIP) install --quiet torch==2.13.0 -e .

# llama-cpp-python (the test extra's small GGUF model) compiles llama.cpp here. Built for the native CPU,
# it uses Intel AMX where the CPU lists it, and on a virtual machine that lists AMX without allowing it
# the first generation died (0.3.35: SIGILL at an AMX `tileloadd`; 0.3.36: a segmentation fault in
# `decode`). These flags build for any x86-64 CPU with AVX2 (plenty for a 135M model); other CPUs
# ignore them.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON

install-test: $(VENV)/bin/python
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) install --quiet torch==2.13.0 -e ".[test]"

# What the tests run besides Python: Debian's chromium for the browser tests (Playwright cannot
# download its own browser offline), Debian's postgresql for the shared-store tests (the tests start
# their own server in a temporary folder), and axe-core from npm for the accessibility check.
system:
	@command -v chromium >/dev/null && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		(apt-get update -qq && apt-get install -y -qq chromium postgresql >/dev/null)
	@test -f node_modules/axe-core/axe.min.js || npm install --no-save --no-audit --no-fund --silent axe-core@4.10

run: install
	$(VENV)/bin/python app.py

# Two workers, each test file on one (`--dist loadfile`: a file's servers and stores are its own): the
# suite's real servers and processes wait as much as they compute, so two run in about two thirds of the
# time of one on a 2-core machine (536 s against 798 s here, docs/BENCHMARKS.md "Test suite time").
test: install-test system
	$(VENV)/bin/python -m pytest -q -n 2 --dist loadfile
