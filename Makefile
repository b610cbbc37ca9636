# lvs.dr — the two commands are `make lab` and `make test`; both install what
# they need (Debian packages, the venv, images, the lab guest).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
BIN := $(CURDIR)/$(VENV)/bin
COLLECTIONS := $(CURDIR)/.cache/collections
# The built collection as installed from its tarball: `make molecule` converges
# the default scenario's lab from it (the default scenario's molecule.yml).
INSTALLED := $(CURDIR)/.cache/installed
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export PATH := $(BIN):$(PATH)
export PY_COLORS ?= 0
export ANSIBLE_FORCE_COLOR ?= 0
# Scenarios run by `make test`, side by side (LVS_DR_MOLECULE_SERIAL=1: in order);
# then SCENARIOS_AFTER, once those have finished, group by group ("--" between
# groups): keepalived alone (a fourth scenario beside the first three made the
# emulated engine take more than 300 s to start a container), then ha alone,
# so that its failover timings are not measured while other scenarios load the
# engine (SCENARIOS_AFTER= leaves both out).
SCENARIOS ?= modules default faults
SCENARIOS_AFTER ?= keepalived -- ha

.PHONY: help deps venv collection lint sanity units built checks molecule test lab lab-down lab-status benchmark \
	benchmark-ipvs benchmark-roles

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 18

deps: ## Install the Debian packages the lab needs (only missing ones)
	@tools/install-deps

venv: deps $(VENV)/.requirements-dev.stamp collection ## Create the Python venv with the pinned tools

$(VENV)/.requirements-dev.stamp: requirements-dev.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

collection: $(COLLECTIONS)/ansible_collections/lvs/dr

$(COLLECTIONS)/ansible_collections/lvs/dr:
	mkdir -p $(@D)
	ln -sfn $(CURDIR) $@

lint: venv ## yamllint, ansible-lint (production profile), ruff, antsibull-docs, antsibull-changelog
	yamllint -s .
	env -u ANSIBLE_COLLECTIONS_PATH ansible-lint  # it installs the collection for itself
	ruff check . tools/labhost tools/lvs_dr_labhost tools/lab tools/ansible-test tools/test-built-collection tools/lint-docs
	tools/lint-docs  # antsibull-docs lint-collection-docs --plugin-docs
	antsibull-changelog lint

sanity: venv ## ansible-test sanity (in its own venvs)
	tools/ansible-test sanity --venv --python 3.11

units: venv ## Unit, functional (network namespaces) and role (recorded check-mode) tests
	pytest -q -p no:cacheprovider tests/unit tests/functional tests/tools tests/roles

molecule: venv ## Molecule scenarios on a Docker engine with IPVS, side by side (default: from the built tarball)
	tools/test-built-collection --install $(INSTALLED)
	LVS_DR_DEFAULT_COLLECTIONS=installed tools/labhost exec -- tools/molecule-scenarios $(SCENARIOS) $(if $(strip $(SCENARIOS_AFTER)),-- $(SCENARIOS_AFTER))

test: venv ## Everything: lint, sanity, unit and Molecule tests (the checks beside the scenarios)
	$(MAKE) --no-print-directory -j2 checks molecule

built: venv ## The collection as users get it: build, install into an empty path, ansible-doc, playbooks
	tools/test-built-collection

checks: venv ## lint, sanity, units and built, one after the other
	@# one sub-make per target: -j1 inside make test's -j2 makes make warn (jobserver reset)
	for target in lint sanity units built; do $(MAKE) --no-print-directory $$target || exit 1; done

lab: venv ## Bring up the local lab (client, director, rs1, rs2) and converge it
	tools/lab up

lab-down: ## Remove everything `make lab` created (containers, network, guest)
	tools/lab down

lab-status: ## Show the lab guest and its cache
	tools/labhost status

benchmark: venv ## Foundation numbers: lab host cold/warm, image builds, molecule stages
	benchmarks/foundation.py

benchmark-ipvs: venv ## lvs.dr.ipvs_service vs one ipvsadm call per rule, N=1000/10000 (writes benchmarks/results/ipvs_service.json)
	tools/labhost exec -- benchmarks/ipvs_service.py

benchmark-roles: venv ## site.yml on the four-node lab: cold, re-run, check mode, verify
	tools/labhost exec -- benchmarks/roles.py
