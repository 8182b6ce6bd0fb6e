# Quanzi: `make run` serves the demo on 127.0.0.1:8000, `make test` runs the whole suite.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
PG_URL ?= postgres://postgres@127.0.0.1:5432/quanzi
REDIS_URL ?= redis://127.0.0.1:6379/0
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# pytest-xdist workers per pass (auto = one per CPU, 2 on the CI machine; 0 = no workers, in-process).
# Whole files go to one worker, so module-scoped worlds are built once. The PostgreSQL pass's sessions
# don't wait for the WAL flush at commit (PGOPTIONS; what others see is unchanged, only crash durability
# of the throwaway test database): its ~100 transactional tests commit and TRUNCATE a lot.
TEST_WORKERS ?= auto
XDIST := -n $(TEST_WORKERS) --dist loadfile

.PHONY: run test test-sqlite test-postgres test-e2e lint bench venv clean

$(VENV)/.created:
	@py=$$(scripts/find-python.sh) || exit 1; \
	  echo "Creating $(VENV) with $$py"; \
	  "$$py" -m venv $(VENV) && $(PY) -m pip install -q --upgrade pip && touch $@

$(VENV)/.installed: $(VENV)/.created pyproject.toml
	$(PY) -m pip install -q -e .
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

venv: $(VENV)/.installed

run: $(VENV)/.installed
	QUANZI_HTTPS=$${QUANZI_HTTPS:-0} $(VENV)/bin/quanzi manage migrate --no-input -v 0
	QUANZI_HTTPS=$${QUANZI_HTTPS:-0} $(VENV)/bin/quanzi demo
	QUANZI_HTTPS=$${QUANZI_HTTPS:-0} $(VENV)/bin/quanzi run --host $(HOST) --port $(PORT)

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check src tests benchmarks

test: $(VENV)/.installed-test
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres
	$(MAKE) --no-print-directory test-e2e

test-sqlite: $(VENV)/.installed-test
	@echo "== pytest on SQLite, in-process real-time delivery =="
	env -u QUANZI_DATABASE_URL -u QUANZI_REDIS_URL QUANZI_DATA_DIR=$$(mktemp -d) $(VENV)/bin/pytest -q $(XDIST)

test-postgres: $(VENV)/.installed-test
	@if $(PY) scripts/services_up.py "$(PG_URL)" "$(REDIS_URL)"; then \
	  echo "== pytest on PostgreSQL + Redis (channels-redis layer, Redis pub/sub fan-out; db_independent tests ran on SQLite) =="; \
	  QUANZI_DATABASE_URL="$(PG_URL)" QUANZI_REDIS_URL="$(REDIS_URL)" QUANZI_REDIS_PREFIX=quanzi-test \
	    PGOPTIONS="-c synchronous_commit=off" \
	    QUANZI_DATA_DIR=$$(mktemp -d) $(VENV)/bin/pytest -q $(XDIST) -m "not db_independent"; \
	elif [ "$$CI" = "true" ]; then \
	  echo "CI=true: PostgreSQL and Redis are required for the second test pass" >&2; exit 1; \
	else \
	  echo "== skipping the PostgreSQL + Redis pass: services unreachable (see above) =="; \
	fi

test-e2e: $(VENV)/.installed-test
	@if [ -x /usr/bin/chromium ]; then \
	  echo "== browser tests (Playwright + Debian Chromium) =="; \
	  env -u QUANZI_DATABASE_URL -u QUANZI_REDIS_URL DJANGO_ALLOW_ASYNC_UNSAFE=true \
	    $(VENV)/bin/pytest -q -o addopts="-p no:cacheprovider" -p no:asyncio \
	    -W ignore::pytest.PytestConfigWarning tests/e2e; \
	elif [ "$$CI" = "true" ]; then \
	  echo "CI=true: /usr/bin/chromium is required (apt-get install -y chromium)" >&2; exit 1; \
	else \
	  echo "== skipping browser tests: /usr/bin/chromium not installed (apt-get install -y chromium) =="; \
	fi

# Each benchmark prints its own table with its baseline measured in the same run.
BENCHES ?= run feed moderation rush
bench: $(VENV)/.installed-test
	@failed=""; for b in $(BENCHES); do echo "== benchmarks/$$b.py =="; $(PY) benchmarks/$$b.py || failed="$$failed $$b"; done; \
	  if [ -n "$$failed" ]; then echo "benchmarks with a failing target:$$failed"; exit 1; fi

clean:
	rm -rf $(VENV) var build *.egg-info
