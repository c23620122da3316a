# prefcenter — the verbs people expect. Everything installs into .venv/ at the repository root.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The suite talks to the real services at their default loopback addresses; override as needed.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/prefcenter
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0
TEST_BROKER_URL ?= redis://127.0.0.1:6379/1
# The suite runs as production does: the test database is migrated by an owner role and used by
# a non-superuser app role, both created on first use through TEST_DATABASE_URL's superuser
# (tests/database_fixtures.py).
TEST_DATABASE_OWNER_ROLE ?= prefcenter_test_owner
TEST_DATABASE_APP_ROLE ?= prefcenter_test_app

.PHONY: install run test lint format check clean chromium bench bench-import

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# Browser tests drive Debian's Chromium (Playwright's own browser download is not used).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = "0" ]; then \
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
			|| echo "warning: could not install chromium; browser tests will fail"; \
		else \
			echo "warning: /usr/bin/chromium missing; run 'sudo apt-get install -y chromium'"; \
		fi; \
	fi

run: $(STAMP)
	$(BIN)/python manage.py runstack

test: $(STAMP) chromium
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} \
	REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
	CELERY_BROKER_URL=$${CELERY_BROKER_URL:-$(TEST_BROKER_URL)} \
	TEST_DATABASE_OWNER_ROLE=$(TEST_DATABASE_OWNER_ROLE) TEST_DATABASE_APP_ROLE=$(TEST_DATABASE_APP_ROLE) \
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The campaign benchmark (bench/campaign.py): needs PostgreSQL and Redis, like `make test`.
# BENCH_ARGS="--contacts 1000000" or "--sink smtp" to vary it.
bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,bench]'
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} \
	REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
	CELERY_BROKER_URL=$${CELERY_BROKER_URL:-$(TEST_BROKER_URL)} \
	$(BIN)/python bench/campaign.py $(BENCH_ARGS)

check: $(STAMP)
	$(BIN)/python manage.py check

clean:
	rm -rf $(VENV) var

# The import benchmark (bench/import.py): needs PostgreSQL, like `make test`.
bench-import: $(STAMP)
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(BIN)/python bench/import.py $(BENCH_IMPORT_ARGS)
