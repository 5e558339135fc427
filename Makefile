# store-edge: the two commands of the quick start are `make demo` and `make test`.
# Both install what is missing first (Debian packages, then the project's .venv).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Debian packages the project runs or tests against (grows with the features that need them).
APT_PACKAGES := sqlite3 wrk mosquitto mosquitto-clients libusb-1.0-0 chromium fonts-wqy-microhei systemd \
	postgresql ansible-core ansible-lint openssl util-linux iproute2
DEMO_DIR ?= .demo
DEMO_PORT ?= 8080
DEMO_HOST ?= 127.0.0.1

.PHONY: demo test lint typecheck unit system-deps venv tools clean bench

demo: venv
	$(BIN)/edge demo --data $(DEMO_DIR) --port $(DEMO_PORT) --host $(DEMO_HOST)

test: venv tools lint typecheck unit

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

unit: venv tools
	$(BIN)/pytest -q

bench: venv
	$(BIN)/edge bench ledger
	$(BIN)/edge bench checkout

# Debian packages: installed with apt when we are root or may sudo; otherwise named and we stop.
system-deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if ! $(PYTHON) -c 'import ensurepip, venv' >/dev/null 2>&1; then missing="$$missing python3-venv"; fi; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	else echo "store-edge needs these Debian packages:$$missing"; \
	     echo "install them with: sudo apt-get install -y$$missing   (then run make again)"; exit 1; fi; \
	echo "installing Debian packages:$$missing"; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing

# promtool (checks /metrics and the alert rules) from Debian's prometheus package, unpacked into
# the venv: installing the package would also install and start a Prometheus server.
tools: $(BIN)/promtool

$(BIN)/promtool: | $(VENV)/.installed
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	(cd "$$tmp" && apt-get download -q prometheus >/dev/null && dpkg-deb -x prometheus_*.deb root); \
	install -m 0755 "$$tmp/root/usr/bin/promtool" $@

# The venv is rebuilt when pyproject.toml changes; the stamp records a complete install.
venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml | system-deps
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "store-edge needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test]'
	touch $@

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis build dist
