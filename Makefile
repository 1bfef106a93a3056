# cogpipe — the two front-door commands are `make run` and `make test`.
# Each one sets up what it needs on a fresh clone: a venv with the project installed,
# the HUD's npm packages, and (for tests) Debian's Chromium for Playwright, redis-server
# for the Redis mode tests and nginx for the reverse-proxy example's test.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NPM_STAMP := frontend/vendor/.installed
CHROMIUM_PATH ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export CHROMIUM_PATH

.PHONY: run test setup chromium redis nginx bench lint wheel clean

# The offline model at a pace a person can watch in the HUD (tests keep the fast defaults).
COGPIPE_LLM_OFFLINE_CALL_S ?= 0.5
COGPIPE_LLM_OFFLINE_TOKENS_PER_S ?= 20

run: setup ## start the server with the default graph and the HUD on http://127.0.0.1:8000
	COGPIPE_LLM_OFFLINE_CALL_S=$(COGPIPE_LLM_OFFLINE_CALL_S) \
	COGPIPE_LLM_OFFLINE_TOKENS_PER_S=$(COGPIPE_LLM_OFFLINE_TOKENS_PER_S) \
	$(BIN)/cogpipe serve $(ARGS)

test: setup chromium redis nginx ## run the whole test suite (engine, nodes, server, browser, Redis mode)
	$(BIN)/pytest $(ARGS)

setup: $(PY_STAMP) $(NPM_STAMP)

$(PY_STAMP): pyproject.toml
	@echo "== setting up $(VENV) with cogpipe and its test tools (first run only, ~30 s)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

$(NPM_STAMP): frontend/package.json frontend/package-lock.json frontend/vendor.mjs
	@echo "== installing the HUD's npm packages (cytoscape, elkjs, Swagger UI) into frontend/vendor"
	cd frontend && npm ci --no-audit --no-fund --loglevel=error && node vendor.mjs
	touch $@

chromium: ## Debian's Chromium for Playwright (Playwright cannot download browsers here)
	@[ -x "$(CHROMIUM_PATH)" ] || { echo "== installing Debian's Chromium for the browser tests (~30 s)" && \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

redis: ## Debian's redis-server for the Redis mode tests (they start their own on a free port)
	@command -v redis-server >/dev/null || { echo "== installing Debian's redis-server for the Redis mode tests (~10 s)" && \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq redis-server >/dev/null; }

nginx: ## Debian's nginx, to run docs/examples/nginx.conf in front of two servers in a test
	@command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { echo "== installing Debian's nginx for the reverse-proxy test (~10 s)" && \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nginx >/dev/null; }

wheel: setup ## build dist/cogpipe-<version>-py3-none-any.whl (graphs and the whole HUD inside)
	$(BIN)/pip wheel --no-deps -q -w dist .
	@ls -l dist/cogpipe-*.whl

bench: setup redis ## print the engine, HUD, memory soak and scale-out benchmarks (~7 min)
	$(BIN)/python bench/engine_overhead.py
	$(BIN)/python bench/hud_fanout.py
	$(BIN)/python bench/soak.py
	$(BIN)/python bench/scale_out.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check engine

clean:
	rm -rf $(VENV) frontend/node_modules frontend/vendor var test-results build dist
