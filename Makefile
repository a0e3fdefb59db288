# farmstore: `make run` serves the demo on http://127.0.0.1:5000, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app
PORT ?= 5000
# seed-demo, the tick and the server all see it: links (BASE_URL, unless set) use this port
export PORT
# pytest-xdist processes for `make test` (one per core); TEST_WORKERS=0 runs the suite in one process
TEST_WORKERS ?= auto
PIP_INSTALL := $(BIN)/pip install --no-cache-dir --quiet --disable-pip-version-check
CATALOGUES := $(wildcard farmstore/translations/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGUES:.po=.mo)

.PHONY: run test install install-dev translations extract-messages chromium lint format bench clean

## run: install, migrate the SQLite database in instance/, load the demo if empty, serve with the tick loop
run: install $(COMPILED)
	$(FLASK) db upgrade
	$(FLASK) farm seed-demo --if-empty
	@echo "farmstore on http://127.0.0.1:$(PORT)  (background jobs: flask farm tick every 60 s)"
	@$(FLASK) farm tick --every 60 > instance/tick.log 2>&1 & tick=$$!; \
	trap 'kill $$tick 2>/dev/null' EXIT INT TERM; \
	$(FLASK) run --host 127.0.0.1 --port $(PORT)

## test: install test tools (and Debian's chromium when missing), run the whole suite
test: install-dev $(COMPILED) chromium
	$(BIN)/pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

## bench: checkout throughput and page speed on PostgreSQL; creates and drops BENCH_DATABASE_URL
## (default postgresql://postgres@127.0.0.1:5432/farmstore_bench). Prints figures, asserts none.
bench: install-dev
	$(BIN)/python -m bench.checkout
	$(BIN)/python -m bench.pages
	$(BIN)/python -m bench.settlement --card-pledges 1000 --no-tracemalloc
	$(BIN)/python -m bench.referrals

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -r requirements-dev.txt
	touch $(VENV)/.installed $@

## translations: compile the catalogues (.po → .mo)
translations: $(COMPILED)

%.mo: %.po $(VENV)/.installed
	$(BIN)/pybabel compile --use-fuzzy -i $< -o $@ >/dev/null

## extract-messages: refresh the catalogues from the code and templates (then translate the new entries)
extract-messages: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k lazy_ngettext:1,2 --ignore-dirs='.* instance' --no-location --sort-output -o farmstore/translations/messages.pot . >/dev/null
	$(BIN)/pybabel update --no-fuzzy-matching --width 100 -i farmstore/translations/messages.pot -d farmstore/translations

## chromium: Debian's browser for the Playwright tests, and a Korean font so screenshots show Hangul
chromium:
	@{ test -x /usr/bin/chromium && test -d /usr/share/fonts/truetype/nanum; } || { \
	  echo "Installing Debian's chromium and fonts-nanum for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium fonts-nanum >/dev/null; }

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check farmstore tests app.py

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format farmstore tests app.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-results $(COMPILED)
