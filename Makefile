# triton-groups: `make test` checks everything; `make up` deploys the local stack with the real Pulumi CLI and
# `make down` destroys it; `make pulumi` provides that CLI; `make demo` serves the example group without Pulumi.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: venv test lint pulumi policies up down release demo stop bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

lint: venv
	$(VENV)/bin/ruff check components infra tests bench examples policies
	@bash tools/actionlint.sh

# The tests run the local stack through the real Pulumi CLI: `make pulumi` provides it (built once per machine).
test: lint pulumi policies
	$(VENV)/bin/pytest -q -p no:cacheprovider

pulumi:
	@bash tools/pulumi/install.sh

# The policy pack's own virtualenv: pulumi-policy pins a protobuf the project's venv cannot hold.
POLICY_STAMP := policies/.venv/.installed-stamp
$(POLICY_STAMP): policies/requirements.txt
	@test -x policies/.venv/bin/python || $(PYTHON) -m venv policies/.venv || python3 -m venv policies/.venv
	policies/.venv/bin/python -m pip install --quiet -r policies/requirements.txt
	@touch $(POLICY_STAMP)

policies: $(POLICY_STAMP)

STACK ?= local

up: venv
	@STACK="$(STACK)" bash scripts/local-stack.sh up

down: venv
	@STACK="$(STACK)" bash scripts/local-stack.sh down

# The release the local stack serves, for trying promotion here: `make up`, `make release`, `make up STACK=local-prod`.
release: venv
	@STACK="$(STACK)" bash scripts/local-stack.sh release

demo: venv
	$(VENV)/bin/triton-groups demo examples/vision/group.yaml

stop: venv
	$(VENV)/bin/triton-groups stop

# Benchmarks are run by hand (they need minutes and a quiet machine); each appends its numbers to bench/RESULTS.md.
bench: venv
	$(PY) bench/packaging_bench.py
	$(PY) bench/start_to_ready.py
	$(PY) bench/smoke_parallelism.py
	$(PY) bench/harness_overhead.py
	$(PY) bench/load_check.py

clean:
	@if [ -x $(VENV)/bin/triton-groups ]; then $(VENV)/bin/triton-groups stop || { echo "make clean: kept .triton-groups/: a local server recorded there could not be stopped (see above); stop it, then run make clean again" >&2; exit 1; }; elif [ -d .triton-groups/local ]; then echo "make clean: kept .triton-groups/: it may hold the state of running local servers and there is no $(VENV) to stop them with; run make stop, then make clean" >&2; exit 1; fi; rm -rf $(VENV) build *.egg-info .triton-groups
