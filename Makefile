# foyer: a virtual waiting room. `make` lists the targets.
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
BIN := bin
CONFIG ?= configs/demo.yaml
CROSS ?= darwin/arm64 windows/amd64 freebsd/amd64

.PHONY: help run demo test test-short bench fuzz lint build cross clean chaos

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build every binary into bin/, version stamped
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

cross: ## check that every binary builds for macOS, Windows and FreeBSD (CROSS=os/arch ...)
	@for t in $(CROSS); do \
	  echo "== $$t"; CGO_ENABLED=0 GOOS=$${t%/*} GOARCH=$${t#*/} $(GO) build -o /dev/null ./cmd/... || exit 1; \
	done

run: build ## start foyer with the demo room, the demo backend, the queue page and the dashboard
	$(BIN)/foyer demo --config $(CONFIG)

demo: build ## replay the festival's 14:00 crowd straight at the backend and through foyer; print the comparison
	$(BIN)/foyer-sim festival --report $(BIN)/report.html

test: ## unit, integration (real Redis), and browser tests
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 8m ./...

chaos: ## the fault matrix (3 engines, a real redis-server, a crowd, 7 faults, invariants); about 2-3 minutes, not part of test
	$(GO) test -tags chaos -count=1 -timeout 10m -v -run TestChaos ./internal/chaos

test-short: ## unit tests only, fast
	$(GO) test -short -count=1 ./...

bench: ## Go benchmarks for the hot paths
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./...

fuzz: ## run every fuzz target for FUZZTIME each (default 20s)
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $${FUZZTIME:-20s} $$pkg || exit 1; \
	  done; \
	done

lint: ## go vet and gofmt
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

.PHONY: load
load: ## load runs against the DESIGN budgets (needs wrk, nginx)
	$(GO) run ./cmd/foyer-load polls --duration $${LOAD_DURATION:-10s} --runs $${LOAD_RUNS:-2}
	$(GO) run ./cmd/foyer-load joins --duration $${LOAD_DURATION:-10s} --runs $${LOAD_RUNS:-2}

clean: ## remove build output
	rm -rf $(BIN)

.PHONY: check-deploy
HELM ?= $(shell command -v helm 2>/dev/null || echo $$($(GO) env GOPATH)/bin/helm)
check-deploy: ## lint the Helm chart, check and unit-test the alert rules, check the HAProxy config
	@for f in deploy/helm/foyer/ci/*-values.yaml; do \
	  echo "== helm lint $$f"; $(HELM) lint --strict --kube-version 1.30.0 deploy/helm/foyer -f $$f >/dev/null || exit 1; \
	done
	promtool check rules deploy/prometheus/foyer-rules.yml
	cd deploy/prometheus && promtool test rules foyer-rules.test.yml
	FOYER_LB_BIND=127.0.0.1:18080 FOYER_LB_STATS=127.0.0.1:18089 FOYER_GW1=127.0.0.1:18081 \
	  FOYER_GW2=127.0.0.1:18082 FOYER_GW3=127.0.0.1:18083 haproxy -c -q -f deploy/haproxy/haproxy.cfg && echo "haproxy.cfg: valid"
