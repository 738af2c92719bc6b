# The project's entry points. See README.md.
.PHONY: run test lint deps bench-api bench-frontend bench-render bench-sync

run:            ## build the site if needed, start api + frontend-server, print the URL
	bash scripts/run-local.sh

test:           ## every test (site build, Rust unit/integration/e2e/side-by-side/conformance)
	bash scripts/test.sh

lint:           ## fmt, clippy, hadolint, compose, actionlint
	bash scripts/lint.sh

deps:           ## install the system tools tests and benchmarks need (apt, pip)
	bash scripts/install-deps.sh

bench-api:      ## api vs Go-Gin (wrk), see BENCHMARKS.md
	python3 bench/api/run.py

bench-frontend: ## frontend-server vs nginx (wrk), see BENCHMARKS.md
	bash bench/frontend/run.sh

bench-render:   ## deployer render vs kubectl kustomize (hyperfine), see BENCHMARKS.md
	bash bench/render/run.sh

bench-sync:     ## deployer sync vs kubectl apply --server-side --prune --applyset, see BENCHMARKS.md
	python3 bench/sync/run.py
