# make test  - install everything into .venv (and Debian's prometheus and chromium when possible), lint, type-check, test
# make demo  - bring the sandbox up, run a small game day, print where the reports are, take it down
# make bench - print the speed, memory and accuracy figures in one table (and reports/bench-<date>.json)
# make test-fast - the unit tier alone (no processes, seconds)
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: test test-fast demo bench bench-packages deploy deploy-check lint typecheck contracts pytest install bytecode debian-packages clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

# uv installs in seconds what pip takes minutes for; pip stays the fallback. Both write the bytecode
# now: where PYTHONDONTWRITEBYTECODE is set (this machine, CI), Python would otherwise compile every
# module from source in every process: 2 s more for each run, Locust worker and shop pod
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --disable-pip-version-check uv 2>/dev/null \
		&& $(BIN)/uv pip install --python $(BIN)/python -q --compile-bytecode -e '.[sandbox,dev]' \
		|| $(BIN)/pip install -q -e '.[sandbox,dev]'
	touch $(STAMP)

# the project's own modules too (compileall skips what is up to date)
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q -j 0 harness probes tests >/dev/null

install: $(STAMP) bytecode debian-packages

# Debian packages the tests use: prometheus (PromQL probes), chromium (report.html in a real browser)
DEBS := prometheus chromium
debian-packages:
	@missing=""; for p in $(DEBS); do command -v $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then \
		echo "debian packages: $(DEBS) present"; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian packages:$$missing"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null) \
		|| echo "WARNING: could not install$$missing; the tests that need them will be skipped"; \
	else \
		echo "WARNING: missing$$missing and no root/apt; the tests that need them will be skipped"; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check harness probes tests

typecheck: $(STAMP)
	$(BIN)/mypy

contracts: $(STAMP)
	$(BIN)/lint-imports

pytest: install
	$(BIN)/pytest -q -n 2 --dist loadfile --durations=15

test: install lint typecheck contracts pytest

# tests/unit: no processes; tests/components: one real component; tests/e2e: whole sandboxes
test-fast: $(STAMP)
	$(BIN)/pytest -q tests/unit

demo: install
	$(BIN)/python -m harness.demo

# one table (and reports/bench-<date>.json): load vs plain Locust on nginx, memory, ground truth, faults at
# 5,000 pods, report and digest render times; about 10 minutes on 2 cores
bench: install bench-packages
	$(BIN)/python -m harness.sandbox.bench

# Debian's nginx: the static target of the load figure
bench-packages:
	@$(MAKE) --no-print-directory debian-packages DEBS=nginx

clean:
	-$(BIN)/harness sandbox down
	rm -rf .sandbox

# deploy/'s generated files: rbac.yaml (harness rbac of the catalogue), cronjobs.yaml (one per scheduled
# game day), experiments/ (the catalogue and game days for its ConfigMaps); deploy-check only says which are stale
deploy: $(STAMP)
	$(BIN)/python -m harness.plan.deploy

deploy-check: $(STAMP)
	$(BIN)/python -m harness.plan.deploy --check
