# The two commands a newcomer needs: `make run` and `make test`. Everything else is plumbing.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test venv worker beat migrate demo lint fmt check schema clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

migrate: venv
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py import_advisories fixtures/advisories
	$(BIN)/python manage.py seed_demo

## run: install, migrate (installs the ATLAS catalogue), load demo data, start a worker and the web server
run: demo
	@mkdir -p .data
	@$(BIN)/celery -A mlgov worker --beat --pool=solo --loglevel=INFO \
		--schedule=.data/celerybeat-schedule --logfile=.data/worker.log & \
	worker=$$!; trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	echo; echo "mlgov is starting at http://$(HOST):$(PORT)/  (worker log: .data/worker.log)"; \
	echo "Log in with the demo users printed above (passwords are kept only as hashes)."; echo; \
	$(BIN)/python manage.py runserver $(HOST):$(PORT) --noreload

worker: venv
	$(BIN)/celery -A mlgov worker --loglevel=INFO

beat: venv
	$(BIN)/celery -A mlgov beat --loglevel=INFO

## test: the whole suite; real services are used when DATABASE_URL / CELERY_BROKER_URL are set
test: venv
	$(BIN)/pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

check: venv
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run

schema: venv
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file /tmp/mlgov-schema.yml

clean:
	rm -rf $(VENV) .data staticfiles
