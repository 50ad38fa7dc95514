# shunter's Makefile. CI (.ci/run) calls `make test`; a newcomer runs `make demo` and `make test`.
# Every target installs what it needs: the Python environment (.venv) and, for the tiers that
# need a cluster, etcd/kube-apiserver/kubectl built from the Go module proxy into
# $(SHUNTER_CACHE) (default ~/.cache/shunter), reused when present.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export SHUNTER_CACHE ?= $(HOME)/.cache/shunter

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev]'
	touch $@

.PHONY: venv
venv: $(VENV)/.installed ## Create the Python environment (.venv)

.PHONY: binaries
binaries: ## Build etcd, kube-apiserver, kube-controller-manager, kubectl, helm and promtool into the cache (minutes the first time)
	tools/build-binaries.sh etcd kube-apiserver kube-controller-manager kubectl helm promtool

.PHONY: fmt
fmt: venv ## Format the code and apply safe lint fixes
	$(BIN)/ruff format src tests tools benchmarks
	$(BIN)/ruff check --fix src tests tools benchmarks

.PHONY: lint
lint: venv ## ruff, ruff format --check, mypy (strict on src/), import-linter contracts
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy src
	$(BIN)/lint-imports

.PHONY: crds
crds: venv ## Regenerate crds/, the generated docs (API and step reference) and the chart's webhook list
	$(BIN)/python -m shunter.codegen.crds crds
	$(BIN)/python -m shunter.codegen.rollouts_crds crds/rollouts
	$(BIN)/python -m shunter.codegen.apidocs docs/reference/api.md
	$(BIN)/python -m shunter.codegen.stepdocs docs/reference/steps.md
	$(BIN)/python -m shunter.codegen.webhooks charts/shunter/files/webhooks.yaml
	tools/sync-chart-crds.sh

.PHONY: test
test: lint binaries ## Lint, then every test: unit, devenv servers, integration (real API server)
	$(BIN)/pytest

.PHONY: test-unit
test-unit: venv ## Unit tests only (no servers)
	$(BIN)/pytest tests/unit

.PHONY: cluster
cluster: venv binaries ## Start a local control plane with the CRDs; prints the KUBECONFIG to export
	$(BIN)/python -m shunter_devenv cluster --crds crds --kubeconfig-out .cluster/kubeconfig

.PHONY: demo
demo: venv ## The seed pipeline locally: control plane, git server, registry, operator, a new image promoted
	tools/build-binaries.sh etcd kube-apiserver kubectl >/dev/null
	$(BIN)/python -m shunter_devenv demo --work-dir .demo

.PHONY: clean
clean: ## Remove the environment and caches (not the binary cache)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
