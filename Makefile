# danhba — the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/danhba
PYTEST_ARGS ?=

.PHONY: run test test-sqlite test-postgres check lint typecheck bench install install-dev messages clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "danhba needs Python 3.11 or newer" or 0)'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The extras each target needs (pyproject.toml): the first start loads the demo data (Faker);
# the tests also run the Redis worker.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[demo]'
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev,demo,redis]'
	@touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## make run: install, migrate, first admin + demo data on first start, then serve on 127.0.0.1:$(PORT)
run: install
	PORT=$(PORT) $(BIN)/danhba setup
	$(BIN)/danhba serve --port $(PORT)

## make test: lint, types, migrations check and the whole suite (SQLite; PostgreSQL too when reachable)
test: install-dev check test-sqlite
	@if $(BIN)/python -c 'import sys, psycopg; from psycopg.conninfo import conninfo_to_dict as d, make_conninfo as m; psycopg.connect(m(**{**d(sys.argv[1]), "dbname": "postgres"}), connect_timeout=3).close()' "$(PG_TEST_URL)"; then \
		$(MAKE) --no-print-directory test-postgres; \
	elif [ -n "$$DANHBA_REQUIRE_SERVICES" ]; then \
		echo "PostgreSQL at $(PG_TEST_URL) is required (DANHBA_REQUIRE_SERVICES is set) but not reachable"; exit 1; \
	else \
		echo "PostgreSQL not reachable at $(PG_TEST_URL): PostgreSQL run skipped (set PG_TEST_URL to point at one)"; \
	fi

# DANHBA_SLOW=1: the tests marked slow too (a plain `pytest` leaves them out).
test-sqlite: install-dev
	DANHBA_SLOW=1 $(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

test-postgres: install-dev
	DANHBA_SLOW=1 DATABASE_URL=$(PG_TEST_URL) $(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

check: lint typecheck
	$(BIN)/python manage.py makemigrations --check --dry-run

lint: install-dev
	$(BIN)/ruff check src bench
	$(BIN)/ruff format --check src bench

typecheck: install-dev
	$(BIN)/mypy src/danhba

## make bench [NAME=search]: benchmarks write bench/results/NAME.json
bench: install-dev
	$(BIN)/python -m bench $(NAME)

messages: install-dev
	cd src/danhba && ../../$(BIN)/danhba makemessages -l vi --no-obsolete && ../../$(BIN)/danhba compilemessages

clean:
	rm -rf $(VENV) var/*.sqlite3* var/static var/demo-loaded
