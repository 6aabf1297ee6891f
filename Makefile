# K2 acceptance: the two commands of the README are `make acceptance` (the main job) and
# `make test` (what CI runs). Both set everything up first; `make help` lists the rest.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CACHE ?= $(HOME)/.cache/k2-acceptance
ALLURE_VERSION := 3.18.0
ALLURE := $(CACHE)/allure-$(ALLURE_VERSION)/node_modules/.bin/allure
REQS_STAMP := $(VENV)/.requirements-installed
BEHAVE_ARGS ?=
BENCH_ARGS ?=
PROFILE ?= infra

.DEFAULT_GOAL := help
.PHONY: help lock setup setup-docker acceptance acceptance-compose test test-compose scan-secrets lint unit integration features features-all features-renamed features-rest-catalog features-observe features-cluster features-compose-renamed \
	features-compose integration-compose test-e2e validate-pipeline prove-defects soak bench report stack-up stack-down stack-status clean

help: ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-19s %s\n", $$1, $$2}'

$(REQS_STAMP): requirements.txt
	@echo "[setup] Python environment in $(VENV) ..."
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install -q --upgrade pip
	@$(BIN)/pip install -q -r requirements.txt
	@# editable: the console scripts (k2-api --help, k2-harness) run this checkout's code
	@$(BIN)/pip install -q --no-deps -e . >$(VENV)/editable.log 2>&1 || { cat $(VENV)/editable.log; exit 1; }
	@touch $@
	@echo "[setup] Python packages installed"

lock: $(REQS_STAMP) ## regenerate requirements.txt (pins and hashes) from pyproject.toml's groups, keeping its versions where they still fit
	@$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 -o requirements.txt --quiet
	@echo "[lock] requirements.txt: review the difference, then make setup"

setup: $(REQS_STAMP) ## create .venv and install every component of the local stack (idempotent)
	@$(BIN)/python -m harness setup

acceptance: setup ## MAIN JOB: start the stack, run every default feature, build the Allure HTML report
	@$(BIN)/python -m harness stack up --profile $(PROFILE); rc=$$?; \
	if [ $$rc -eq 0 ]; then $(BIN)/behave $(BEHAVE_ARGS); rc=$$?; fi; \
	$(MAKE) --no-print-directory report || true; \
	if [ -z "$(KEEP_STACK)" ]; then $(BIN)/python -m harness stack down; fi; \
	echo "[acceptance] report: reports/allure-report/index.html"; exit $$rc

acceptance-compose: setup setup-docker ## the main job on the Docker Compose stack: stack up, features, Allure report, down
	@$(BIN)/python -m harness stack --driver compose up --profile $(PROFILE); rc=$$?; \
	if [ $$rc -eq 0 ]; then $(BIN)/behave -D driver=compose $(BEHAVE_ARGS); rc=$$?; fi; \
	$(MAKE) --no-print-directory report || true; \
	if [ -z "$(KEEP_STACK)" ]; then $(BIN)/python -m harness stack --driver compose down; \
	  $(BIN)/python -m harness stop-docker; fi; \
	echo "[acceptance-compose] report: reports/allure-report/index.html"; exit $$rc

test: setup lint unit integration features-renamed features-rest-catalog features-observe features-cluster features-all test-compose scan-secrets ## WHAT CI RUNS: lint, unit and integration tests, features (@slow too) on both drivers, on a renamed K2, on a REST catalog and on a cluster, secret scan

scan-secrets: setup ## fail if a secret of the stack appears in reports/ or the stack's logs
	@$(BIN)/python -m harness scan-secrets

lint: setup ## ruff (lint and format) and mypy
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/python -m harness.lockcheck
	@$(BIN)/python -m k2.settings_doc --check
	@$(BIN)/mypy

unit: setup ## unit tests of harness and k2 (no services)
	@$(BIN)/pytest -q tests/unit --timeout 60 --junitxml=reports/junit/unit.xml

integration: setup ## integration tests on a stack of real services of their own (.stack-pytest)
	@$(BIN)/pytest -q tests/integration --junitxml=reports/junit/integration.xml

features: setup ## behave features; starts (and stops) the stack if none is up
	@$(BIN)/behave $(BEHAVE_ARGS)

# The default features and the longer @slow scenarios in one run (one report); @wip stays out,
# and @cluster runs on a profile of its own (features-cluster).
features-all: setup ## every feature scenario, @slow included (what `make test` runs on the local stack)
	@$(BIN)/behave --tags="not @wip" --tags="not @cluster" $(BEHAVE_ARGS)

# A K2 the suite did not start, named differently in every contract name: the reference platform
# runs from platforms/k2-renamed.yaml on a stack of its own (.stack-renamed), and the pipeline
# feature verifies it through the external driver, as a team verifies its own K2. Its evidence
# moves to reports/renamed/, so the runs after it keep their own.
RENAMED := K2_STACK_DIR=$(CURDIR)/.stack-renamed K2_PLATFORM_FILE=platforms/k2-renamed.yaml
features-renamed: setup ## the pipeline feature, through the external driver, on our platform with every name changed
	@$(RENAMED) $(BIN)/python -m harness stack up --profile full >/dev/null && \
	$(RENAMED) $(BIN)/python -m harness stack endpoints --out .stack-renamed/endpoints.yaml && \
	$(BIN)/behave -D driver=external -D endpoints=.stack-renamed/endpoints.yaml -D target=targets/k2-renamed.yaml \
	  features/pipeline.feature $(BEHAVE_ARGS); rc=$$?; \
	$(RENAMED) $(BIN)/python -m harness stack down >/dev/null; \
	rm -rf reports/renamed && mkdir -p reports/renamed && \
	for f in allure-results scenarios; do test ! -e reports/$$f || mv reports/$$f reports/renamed/; done; \
	test ! -e reports/junit/features || mv reports/junit/features reports/renamed/junit; exit $$rc

# An exchange that trades on its own and takes no orders, as a real one: the pipeline feature
# through the external driver with no control API, so the suite watches windows of the trades and
# judges them against the exchange's REST history (.stack-observe, evidence to reports/observe/).
OBSERVE := K2_STACK_DIR=$(CURDIR)/.stack-observe K2_PLATFORM_FILE=platforms/k2-steady.yaml
features-observe: setup ## the pipeline feature against an exchange that trades on its own (no control API)
	@$(OBSERVE) $(BIN)/python -m harness stack up --profile full >/dev/null && \
	$(OBSERVE) $(BIN)/python -m harness stack endpoints --no-control --out .stack-observe/endpoints.yaml && \
	$(BIN)/behave -D driver=external -D endpoints=.stack-observe/endpoints.yaml features/pipeline.feature $(BEHAVE_ARGS); \
	rc=$$?; $(OBSERVE) $(BIN)/python -m harness stack down >/dev/null; \
	rm -rf reports/observe && mkdir -p reports/observe && \
	for f in allure-results scenarios; do test ! -e reports/$$f || mv reports/$$f reports/observe/; done; \
	test ! -e reports/junit/features || mv reports/junit/features reports/observe/junit; exit $$rc

# The same platform and suite on an Iceberg REST catalog (the object store's own) instead of the
# SQL one: the pipeline feature on a stack of its own (.stack-rest), evidence to reports/rest-catalog/.
REST := K2_STACK_DIR=$(CURDIR)/.stack-rest K2_STACK_CATALOG=rest
features-rest-catalog: setup ## the pipeline feature with the platform and the suite on an Iceberg REST catalog
	@$(REST) $(BIN)/python -m harness stack up --profile full >/dev/null && \
	$(REST) $(BIN)/behave features/pipeline.feature $(BEHAVE_ARGS); rc=$$?; \
	$(REST) $(BIN)/python -m harness stack down >/dev/null; \
	rm -rf reports/rest-catalog && mkdir -p reports/rest-catalog && \
	for f in allure-results scenarios; do test ! -e reports/$$f || mv reports/$$f reports/rest-catalog/; done; \
	test ! -e reports/junit/features || mv reports/junit/features reports/rest-catalog/junit; exit $$rc

# Three Kafka nodes in one quorum and two consumers in one group (profile cluster), on a stack of
# its own (.stack-cluster): the cluster feature, evidence to reports/cluster/.
CLUSTER := K2_STACK_DIR=$(CURDIR)/.stack-cluster
features-cluster: setup ## the cluster feature on profile cluster (3 brokers, 2 consumers), stack started and stopped
	@$(CLUSTER) $(BIN)/behave --tags=@cluster features/cluster.feature $(BEHAVE_ARGS); rc=$$?; \
	$(CLUSTER) $(BIN)/python -m harness stack down >/dev/null; \
	rm -rf reports/cluster && mkdir -p reports/cluster && \
	for f in allure-results scenarios; do test ! -e reports/$$f || mv reports/$$f reports/cluster/; done; \
	test ! -e reports/junit/features || mv reports/junit/features reports/cluster/junit; exit $$rc

setup-docker: setup ## Docker for the compose stack: engine (started if need be), compose CLI, base image, images (idempotent)
	@$(BIN)/python -m harness setup-docker

features-compose: setup setup-docker ## the default features on the Docker Compose stack (started and stopped by the run)
	@$(BIN)/behave -D driver=compose $(BEHAVE_ARGS)

integration-compose: setup setup-docker ## the compose driver's tests on a real Docker engine (a compose project of their own)
	@$(BIN)/pytest -q tests/compose

# In `make test`: the compose driver's tests and features. The local run's evidence moves to
# reports/local/ first, so each run's report holds its own results; the Docker engine is stopped
# at the end if set-up started it, pass or fail.
test-compose: setup
	@rm -rf reports/local && mkdir -p reports/local && \
	for f in allure-results scenarios latency.json; do test ! -e reports/$$f || mv reports/$$f reports/local/; done; \
	test ! -e reports/junit/features || mv reports/junit/features reports/local/junit
	@$(BIN)/python -m harness setup-docker && $(BIN)/pytest -q tests/compose --junitxml=reports/junit/compose.xml && \
	$(MAKE) --no-print-directory features-compose-renamed && \
	$(BIN)/behave -D driver=compose $(BEHAVE_ARGS); rc=$$?; \
	$(BIN)/python -m harness stack --driver compose down >/dev/null 2>&1; \
	$(BIN)/python -m harness stop-docker; exit $$rc

# The renamed K2 of features-renamed under Docker Compose: the platform file becomes a compose
# override of the platform's services (their own environment and health checks); evidence to
# reports/compose-renamed/. Needs the Docker engine (make setup-docker).
features-compose-renamed: setup
	@K2_PLATFORM_FILE=platforms/k2-renamed.yaml $(BIN)/behave -D driver=compose -D target=targets/k2-renamed.yaml \
	  features/pipeline.feature $(BEHAVE_ARGS); rc=$$?; \
	K2_PLATFORM_FILE=platforms/k2-renamed.yaml $(BIN)/python -m harness stack --driver compose down >/dev/null 2>&1; \
	rm -rf reports/compose-renamed && mkdir -p reports/compose-renamed && \
	for f in allure-results scenarios; do test ! -e reports/$$f || mv reports/$$f reports/compose-renamed/; done; \
	test ! -e reports/junit/features || mv reports/junit/features reports/compose-renamed/junit; exit $$rc

test-e2e: features ## the end-to-end features alone (same as `make features`)

validate-pipeline: setup ## the pipeline feature alone
	@$(BIN)/behave features/pipeline.feature $(BEHAVE_ARGS)

prove-defects: setup ## the features against each broken platform of tests/defects/: fails if one passes (reports/defects.md)
	@$(BIN)/python -m harness prove-defects $(if $(DEFECTS),--only $(DEFECTS)) $(if $(BEHAVE_ARGS),-- $(BEHAVE_ARGS))

soak: setup ## the full default suite RUNS times (default 10), each from a stopped stack; failed runs kept
	@$(BIN)/python -m harness soak --runs $(or $(RUNS),10)

bench: setup ## benchmark on a full stack of its own (.stack-bench): reports/bench.json, bench.png; QUICK=1 is short
	@$(BIN)/python -m harness bench $(if $(QUICK),--quick) $(BENCH_ARGS)

report: ## build the Allure HTML report and reports/success-criteria.md from reports/allure-results (npm allure, no Java)
	@test -x $(ALLURE) || { echo "[report] installing allure $(ALLURE_VERSION) from npm ..."; \
	  mkdir -p $(CACHE)/allure-$(ALLURE_VERSION) && \
	  npm install --silent --no-audit --no-fund --prefix $(CACHE)/allure-$(ALLURE_VERSION) allure@$(ALLURE_VERSION); }
	@test -d reports/allure-results || { echo "[report] no reports/allure-results yet: run the features first"; exit 1; }
	@rm -rf reports/allure-report  # into an old report, allure 3 writes a second one in a subfolder
	@$(ALLURE) generate reports/allure-results -o reports/allure-report >/dev/null
	@echo "[report] reports/allure-report/index.html"
	@$(BIN)/python -m harness criteria

stack-up: setup ## start the local stack (PROFILE=infra)
	@$(BIN)/python -m harness stack up --profile $(PROFILE)

stack-down: ## stop the local stack and the compose stack, free their ports, stop a Docker engine set-up started
	@test -x $(BIN)/python && $(BIN)/python -m harness stack down || true
	@test -x $(BIN)/python && docker info >/dev/null 2>&1 && $(BIN)/python -m harness stack --driver compose down || true
	@test -x $(BIN)/python && $(BIN)/python -m harness stop-docker || true

stack-status: ## state of every service and the client settings
	@$(BIN)/python -m harness stack status

clean: stack-down ## stop the stack and delete its data, reports and caches of the tools
	@test -x $(BIN)/python && $(BIN)/python -m harness stack down --purge || true
	@test -x $(BIN)/python && docker info >/dev/null 2>&1 && $(BIN)/python -m harness stack --driver compose down --purge || true
	@test -x $(BIN)/python && $(BIN)/python -m harness stop-docker || true
	@rm -rf reports/allure-results reports/allure-report .pytest_cache .mypy_cache .ruff_cache
