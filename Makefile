# make run  — install, migrate, seed the sandbox, ensure an admin, serve web + worker on $PORT
# make test — install test dependencies (and Debian's Chromium) and run the whole suite
SHELL := /bin/bash
PORT ?= 8000
VENV := .venv
PY := $(VENV)/bin/python
export PORT

.PHONY: install install-dev browser run test lint format migrations-check bench mutants

$(VENV)/.installed: requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

# Browser tests use Debian's Chromium (no browser download); install it when it is missing.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# runportal takes the terminal's foreground, so Ctrl-C reaches it alone (not make) and make sees
# its clean exit 0; `exec` hands make's own SIGTERM straight to it rather than to a shell.
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py sandbox_seed
	$(PY) manage.py numbers_sync --schedule
	$(PY) manage.py detail_records_sync --schedule
	$(PY) manage.py dashboard_rollup --schedule
	$(PY) manage.py ensure_admin
	exec $(PY) manage.py runportal --port $(PORT)

test: install-dev browser
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrations-check: install
	$(PY) manage.py makemigrations --check --dry-run

bench: install-dev
	@for script in bench/bench_*.py; do [ -e "$$script" ] || continue; echo "== $$script"; $(PY) $$script || exit 1; done

# Mutation testing of the lifecycle, opt-out, segments, numbers sync and webhook validation
# ([tool.mutmut] in pyproject.toml; docs/mutation-testing.md). Not part of `make test`: an hour or
# more on a small shared machine; it resumes where it stopped. Mutants are written under mutants/
# (git-ignored). One module at a time: make mutants MUTANTS='messaging.validation.*'
# mutmut copies a source file only when mutants/ lacks it, so the copies are removed first (the
# results, in *.meta, stay: a function's result is kept until its code changes), and so is the
# migrated test database tests/mutmut_plugin.py copies for each mutant.
MUTANT_CHILDREN ?= 2
MUTANTS ?=
mutants: install-dev
	if [ -d mutants ]; then find mutants -name '*.py' -not -path 'mutants/tests/*' -delete; fi
	rm -f mutants/.test-db-*
	$(VENV)/bin/mutmut run --max-children $(MUTANT_CHILDREN) $(MUTANTS)
	$(VENV)/bin/mutmut results
