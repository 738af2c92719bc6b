# The project's entry points. See README.md.
.PHONY: run test lint deps bench-api bench-frontend bench-render bench-sync bench-agent fuzz-render

run:            ## build the site if needed, start api + frontend-server, print the URL
	bash scripts/run-local.sh

test:           ## every test (site build, Rust unit/integration/e2e/side-by-side/conformance, scripts, images, compose)
	bash scripts/test.sh

lint:           ## fmt, clippy, hadolint, compose, actionlint
	bash scripts/lint.sh

deps:           ## install the tools tests, lint and benchmarks need (apt, pip, go install), only what is missing
	bash scripts/install-deps.sh

bench-api:      ## api vs Go-Gin (wrk), see BENCHMARKS.md
	python3 bench/api/run.py

bench-frontend: ## frontend-server vs nginx (wrk), see BENCHMARKS.md
	bash bench/frontend/run.sh

bench-render:   ## deployer render vs kubectl kustomize (hyperfine), see BENCHMARKS.md
	bash bench/render/run.sh

fuzz-render:    ## deployer render vs kubectl kustomize on SEEDS generated trees (release), figures to deployer/FUZZ-STATUS.md
	bash scripts/fuzz-render.sh $(SEEDS)

bench-sync:     ## deployer sync vs kubectl apply --server-side --prune --applyset, see BENCHMARKS.md
	python3 bench/sync/run.py

bench-agent:    ## deployer agent: commit-to-synced, memory idle and with 1,001 objects, API requests per idle hour, see BENCHMARKS.md
	python3 bench/agent/run.py
