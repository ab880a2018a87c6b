# Two commands: `make run` starts the whole system locally; `make test` sets up and runs every check.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8000
CHROMIUM ?= /usr/bin/chromium

# The SAM CLI has a venv of its own: it pins its own boto3 and pydantic (tools/sam/).
SAM_DIR   := tools/sam
SAM_VENV  := $(SAM_DIR)/.venv
SAM_BUILD := $(SAM_DIR)/build
# Offline and reproducible: no telemetry; SAM's state directory is ours, its last update check
# set far in the future so it never asks PyPI for a newer release (it does weekly otherwise);
# no profile or credentials from ~/.aws. Neither `sam validate --lint` (cfn-lint only) nor
# `sam build` needs credentials; the region is given so nothing looks one up.
SAM := env -u AWS_PROFILE -u AWS_DEFAULT_PROFILE SAM_CLI_TELEMETRY=0 \
	__SAM_CLI_APP_DIR=$(CURDIR)/$(SAM_DIR)/home \
	AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
	$(SAM_VENV)/bin/sam
SAM_REGION ?= us-east-1

.PHONY: run invoke test setup sam-setup browser lint build typecheck unit workflow integration \
	browser-tests conformance bench clean deploy-web smoke dynamodb-paths vendor

# Then the `optin` command (cli/optin_cli, pyproject.toml [project.scripts]) into .venv/bin,
# editable and offline: setup.py develop, because setuptools 65 builds pip's PEP 660 editable
# wheels only with the wheel package, which the pins leave out.
$(VENV)/.installed: requirements-dev.txt constraints.txt functions/requirements.txt setup.py
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	$(PY) setup.py --quiet develop --no-deps >$(VENV)/optin-install.log 2>&1 \
	  || { cat $(VENV)/optin-install.log >&2; exit 1; }
	touch $@

setup: $(VENV)/.installed

$(SAM_VENV)/.installed: $(SAM_DIR)/requirements.txt $(SAM_DIR)/constraints.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check \
	  -r $(SAM_DIR)/requirements.txt -c $(SAM_DIR)/constraints.txt
	mkdir -p $(SAM_DIR)/home
	echo '{"telemetryEnabled": false, "lastVersionCheck": 4102444800.0}' \
	  > $(SAM_DIR)/home/metadata.json
	touch $@

sam-setup: $(SAM_VENV)/.installed

# Playwright cannot download its own browser here: the tests drive Debian's chromium.
browser:
	@command -v $(CHROMIUM) >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

# SFN_ENDPOINT=http://127.0.0.1:8083 uses Step Functions Local (Docker) instead of the
# embedded engine: see docs/local-runtime.md.
# DYNAMODB_ENDPOINT=http://127.0.0.1:5000 keeps contacts in DynamoDB there (moto_server or
# DynamoDB Local) instead of SQLite: the deployed code path.
# ARGS passes any other option through, e.g.
#   make run ARGS="--parameter-overrides ConfirmationWindowSeconds=120 ProgramName='Beta Club'"
run: setup
	$(PY) -m local --port $(PORT) $(if $(SFN_ENDPOINT),--stepfunctions-endpoint $(SFN_ENDPOINT)) \
	  $(if $(DYNAMODB_ENDPOINT),--dynamodb-endpoint $(DYNAMODB_ENDPOINT)) $(ARGS)

# One function once, as `sam local invoke`: make invoke FN=ValidateNumberFunction
# EVENT=events/validate-number.json [ARGS="--parameter-overrides K=V"]. Its AWS calls (Step
# Functions, SMS) go to the runtime `make run` started on PORT.
invoke: setup
	@test -n "$(FN)" || { echo "usage: make invoke FN=FunctionName EVENT=events/<file>.json" >&2; exit 2; }
	PORT=$(PORT) $(PY) -m local invoke $(FN) $(if $(EVENT),-e $(EVENT)) \
	  $(if $(DYNAMODB_ENDPOINT),--dynamodb-endpoint $(DYNAMODB_ENDPOINT)) $(ARGS)

lint: setup sam-setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/cfn-lint template.yaml
	$(VENV)/bin/statelint statemachine/*.asl.json
	$(PY) -m local.stepfunctions.validation statemachine/*.asl.json
	$(VENV)/bin/mypy
	$(SAM) validate --lint --region $(SAM_REGION) --template-file template.yaml

# Builds what `sam deploy` would upload (pip fetches the arm64 wheels from PyPI); needs the
# template's Runtime (python3.11) on PATH, as sam build does. --no-cached overrides
# samconfig.toml's `cached`, whose dependency cache sam keeps in ./.aws-sam whatever the
# build dir: this check leaves nothing outside tools/sam/.
build: sam-setup
	rm -rf $(SAM_BUILD)
	$(SAM) build --no-cached --region $(SAM_REGION) --template-file template.yaml \
	  --build-dir $(SAM_BUILD)

# Also part of lint: mypy --strict over functions/ and local/stepfunctions/ (pyproject.toml).
typecheck: setup
	$(VENV)/bin/mypy

test: setup browser lint build
	$(PY) -m pytest -q
	$(MAKE) --no-print-directory dynamodb-paths
	$(MAKE) --no-print-directory conformance

# The deployed code path (CONTACT_STORE=dynamodb) end to end: the workflow paths, kill -9
# durability, the sign-up API, the log privacy check and the optin CLI again, with the runtime's contacts in
# DynamoDB (moto's server, started by the tests) instead of SQLite.
dynamodb-paths: setup
	TEST_DYNAMODB=moto $(PY) -m pytest -q tests/workflow/test_registration_paths.py \
	  tests/integration/test_durability.py tests/integration/test_signup_api.py \
	  tests/integration/test_privacy.py tests/integration/test_cli.py

unit workflow integration: setup
	$(PY) -m pytest -q tests/$@

browser-tests: setup browser
	$(PY) -m pytest -q tests/browser

# Cases recorded on real AWS (../shared/conformance), run against the local engine.
# The Step Functions cases recorded on real AWS (../shared/conformance), run against the local
# engine; any failing case fails the target (and `make test`). A clone without the corpus beside
# it says so and skips.
CONFORMANCE ?= ../shared/conformance
conformance: setup
	@if [ -f $(CONFORMANCE)/run_conformance.py ]; then \
	  $(PY) -m local.conformance $(CONFORMANCE); \
	else \
	  echo "conformance: skipped, $(CONFORMANCE) is not here (CI always has it)"; \
	fi

bench: setup
	$(PY) -m bench

# The console's vendored JS (web/vendor/): downloads each tarball from the npm registry again
# and checks it against the integrity in web/vendor/README.md, and each file against it
# (standard library only: no venv needed).
vendor:
	$(PYTHON) tools/vendor.py

# --- a deployed stack (your AWS credentials; see docs/deploy.md) ---
STACK ?= sms-optin
STACK_OUTPUT = $$($(VENV)/bin/aws cloudformation describe-stacks --stack-name $(STACK) \
	--query "Stacks[0].Outputs[?OutputKey=='$(1)'].OutputValue" --output text)

# The form's pages to the stack's bucket; the phone simulator is local-only and stays out.
deploy-web: setup
	$(VENV)/bin/aws s3 sync web/ "s3://$(call STACK_OUTPUT,WebBucketName)/" --delete \
	  --exclude simulator.html --exclude js/simulator.js
	$(VENV)/bin/aws cloudfront create-invalidation \
	  --distribution-id "$(call STACK_OUTPUT,WebDistributionId)" --paths '/*'

# One sign-up against the deployed stack with AWS's SMS simulator number; ✗ on any failed
# step, exit 1 (tools/smoke.py; your credentials, not the offline SAM settings above).
REGION ?= us-east-1
smoke: setup
	$(PY) tools/smoke.py --stack-name $(STACK) --region $(REGION)

clean:
	rm -rf $(VENV) .local .pytest_cache .ruff_cache .mypy_cache
	rm -rf $(SAM_VENV) $(SAM_BUILD) $(SAM_DIR)/home
