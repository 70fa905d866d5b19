# Dealer Assistant: `make run` starts everything, `make test` checks everything.
# Both create what they need on a fresh clone: the app environment (.venv, Python 3.11),
# the Rasa environment (.venv-rasa, Python 3.10, rasa 3.6.21), the web chat widget and the model.
SHELL := /bin/bash
.DEFAULT_GOAL := help

APP_VENV  := .venv
RASA_VENV := .venv-rasa
PY311 ?= $(shell command -v python3.11 || command -v python3)
# uv does not follow pyenv shims, so the 3.10 interpreter is located explicitly.
PY310 ?= $(shell ls -d $$(pyenv root 2>/dev/null)/versions/3.10.*/bin/python3.10 2>/dev/null | sort -V | tail -n1)
UV := $(APP_VENV)/bin/uv
WEBCHAT_VERSION := 1.0.1
WEBCHAT_SHA256 := cd2a8ee5211df95c626fc78bcf9d7d3a50368eacd43c7154476d29e519d42685
WEBCHAT := bot/gateway/web/vendor/rasa-webchat/index.js

.PHONY: help setup fonts browser run test lint typecheck pytest train lock clean

help:
	@echo "make run   - prepare everything and start the assistant (http://localhost:8080)"
	@echo "make test  - prepare everything and run ruff, mypy and the whole test suite"
	@echo "make lock  - re-resolve requirements/app.lock and requirements/rasa.lock"

$(APP_VENV)/.synced: requirements/app.lock pyproject.toml
	@echo "==> app environment ($(APP_VENV), $$($(PY311) --version))"
	@test -x $(APP_VENV)/bin/python || $(PY311) -m venv $(APP_VENV)
	@test -x $(UV) || $(APP_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
	    "uv==$$(sed -n 's/^uv==\([^ ]*\).*/\1/p' requirements/app.lock)"
	@$(UV) pip sync --quiet --python $(APP_VENV)/bin/python requirements/app.lock
	@$(UV) pip install --quiet --python $(APP_VENV)/bin/python --no-deps -e .
	@touch $@

$(RASA_VENV)/.synced: requirements/rasa.lock | $(APP_VENV)/.synced
	@if [ -z "$(PY310)" ] || [ ! -x "$(PY310)" ]; then \
	    echo "error: Python 3.10 is needed for the Rasa environment (rasa 3.6.21 runs on 3.10 only)." >&2; \
	    echo "       Install it with 'pyenv install 3.10' or pass its path: make PY310=/path/to/python3.10 ..." >&2; \
	    exit 1; fi
	@echo "==> Rasa environment ($(RASA_VENV), $$($(PY310) --version))"
	@test -x $(RASA_VENV)/bin/python || $(UV) venv --quiet --python $(PY310) $(RASA_VENV)
	@$(UV) pip sync --quiet --python $(RASA_VENV)/bin/python requirements/rasa.lock
	@touch $@

$(WEBCHAT):
	@echo "==> web chat widget (npm package rasa-webchat@$(WEBCHAT_VERSION))"
	@tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent rasa-webchat@$(WEBCHAT_VERSION) >/dev/null 2>&1 \
	  && echo "$(WEBCHAT_SHA256)  rasa-webchat-$(WEBCHAT_VERSION).tgz" | sha256sum --check --quiet \
	  && tar xzf rasa-webchat-$(WEBCHAT_VERSION).tgz package/lib/index.js package/LICENSE \
	  && cd - >/dev/null && mkdir -p $(dir $@) && cp $$tmp/package/lib/index.js $@ \
	  && cp $$tmp/package/LICENSE $(dir $@)LICENSE && rm -rf $$tmp

setup: $(APP_VENV)/.synced $(RASA_VENV)/.synced $(WEBCHAT) fonts

# The report charts have Chinese labels: a CJK font from Debian (no font download at run time).
fonts:
	@if ! fc-list :lang=zh family 2>/dev/null | grep -q .; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "==> installing a Chinese font for the report charts (apt-get: fonts-wqy-microhei)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fontconfig fonts-wqy-microhei >/dev/null) \
	      || echo "warning: could not install fonts-wqy-microhei; Chinese labels in report charts will not render" >&2; \
	  else echo "note: no Chinese font is installed (Debian: apt-get install fonts-wqy-microhei); Chinese labels in report charts will not render" >&2; fi; fi

# The browser test drives the web chat in Debian's Chromium (no browser download at run time).
browser:
	@if ! command -v chromium >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "==> installing Chromium for the browser tests (apt-get)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "warning: could not install Chromium; the browser tests will be skipped" >&2; \
	  else echo "note: Chromium is not installed; the browser tests will be skipped" >&2; fi; fi

run: setup
	@$(APP_VENV)/bin/dealer-assistant run

train: setup
	@$(APP_VENV)/bin/dealer-assistant train

lint: $(APP_VENV)/.synced
	@echo "==> ruff"
	@$(APP_VENV)/bin/ruff check .
	@$(APP_VENV)/bin/ruff format --check .

typecheck: $(APP_VENV)/.synced
	@echo "==> mypy"
	@$(APP_VENV)/bin/mypy

pytest: setup browser
	@echo "==> model"
	@$(APP_VENV)/bin/dealer-assistant train
	@echo "==> pytest (Rasa environment: nlu/ components)"
	@$(RASA_VENV)/bin/python -m pytest -c tests/nlu/pytest.ini tests/nlu
	@echo "==> pytest (app environment)"
	@$(APP_VENV)/bin/python -m pytest --ignore=tests/nlu

test: lint typecheck pytest

lock: $(APP_VENV)/.synced
	$(UV) pip compile requirements/rasa.in --python-version 3.10 --python-platform x86_64-unknown-linux-gnu --generate-hashes -q -o requirements/rasa.lock
	$(UV) pip compile pyproject.toml --extra dev --python-version 3.11 --python-platform x86_64-unknown-linux-gnu --generate-hashes -q -o requirements/app.lock

clean:
	rm -rf $(APP_VENV) $(RASA_VENV) bot/gateway/web/vendor var .mypy_cache .ruff_cache .pytest_cache
