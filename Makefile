# Loam: make run starts one node on 127.0.0.1:3100 with data in ./data;
# make test runs every test.
GO      ?= go
BIN     := bin
# SHARED: the shared kit beside the repository, used only for the optional
# conformance.py cross-check of make conformance.
SHARED  ?= ../shared

.PHONY: sizing bench-query bench-cluster bench-retention bench-tenants all build plugin run test conformance bench bench-go bench-push bench-churn fuzz fmt vet clean

all: build

build:
	$(GO) build -o $(BIN)/loam ./server/cmd/loam

# plugin: the Fluent Bit output plugin (cgo; needs a C compiler). Also
# writes plugin/out_loam.h, cgo's header of the exported FLBPlugin… symbols.
plugin:
	CGO_ENABLED=1 $(GO) build -buildmode=c-shared -o plugin/out_loam.so ./plugin

run: build
	$(BIN)/loam -http.addr 127.0.0.1:3100 -data.dir ./data

# test: unit tests (race detector on the concurrent packages), the
# end-to-end tests against the real binary, and the Loki conformance cases.
# Everything it needs is in the repository.
test: vet
	$(GO) test -count=1 -skip '^TestConformance$$' ./...
	$(GO) test -count=1 -race ./server/wal/ ./server/store/ ./server/api/ ./server/api/queue/ ./server/auth/ ./server/tlsfiles/ ./server/fanout/ ./server/cluster/ ./server/distributor/ ./server/deletes/ ./server/overrides/ ./server/logql/engine/ ./server/logql/tmpl/ ./server/patterns/ ./server/ring/ \
		./plugin/internal/output/ ./plugin/internal/client/ ./plugin/internal/metrics/
	$(MAKE) conformance

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l server plugin internal e2e deploy fluentbit-conf 2>/dev/null)" || (echo "gofmt needed:"; gofmt -l server plugin internal e2e deploy fluentbit-conf; exit 1)

# conformance: a fresh server, the corpus of e2e/testdata/conformance pushed,
# every case compared with Grafana Loki's recorded answers by the Go runner
# (CONFORMANCE_ONLY=id,prefix*,… narrows it). If $(SHARED)/conformance is
# there, its conformance.py is run too as a cross-check; it is optional.
CONFORMANCE_ONLY ?=
conformance: build
	bash scripts/conformance.sh "$(SHARED)" "$(CONFORMANCE_ONLY)"

bench: bench-go bench-push bench-query bench-cluster bench-retention bench-tenants bench-churn

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./server/...

# bench-push, bench-query: internal/pushbench against a real loam; the query
# figures on 6.5 M lines (BENCH_DATA=dir keeps the loaded data for the next run).
bench-push: build
	bash scripts/bench-push.sh

bench-query: build
	bash scripts/bench-query.sh

# bench-cluster: three nodes on 127.0.0.1 with replication factor 3 against
# one node, in the same run: ingest lines per CPU-s of the whole cluster and
# the bench-query figures asked of one node (BENCH_SHORT=1: a smoke run).
bench-cluster: build
	bash scripts/bench-cluster.sh

# bench-retention: push latency and lines per CPU-s at 10,000 lines/s while
# a delete rewrites the query data set and while retention purges it.
bench-retention: build
	bash scripts/bench-retention.sh

# bench-tenants: one tenant's push latency alone and while another pushes at
# ten times its ingestion rate limit.
bench-tenants: build
	bash scripts/bench-tenants.sh

# bench-churn: 1,000,000 streams that come and go, a few lines each, through
# the store; the heap after flushing must stay flat (make test runs 20,000).
bench-churn:
	LOAM_CHURN_STREAMS=1000000 $(GO) test -count=1 -run '^TestStreamChurn$$' -v -timeout 30m ./server/store/

# sizing: the figures and the formula of docs/sizing.md: loam pushed at
# fixed rates, one node and three with replication factor 3, 60 s a run
# (about 25 min; SIZING_SHORT=1: a smoke run of 2 min; SIZING_OUT=file
# keeps the table for go run ./internal/sizingfit file).
sizing: build
	bash scripts/sizing.sh

fuzz:
	bash scripts/fuzz.sh 20s

fmt:
	gofmt -w server plugin internal deploy fluentbit-conf

clean:
	rm -rf $(BIN)
