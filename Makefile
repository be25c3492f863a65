# duroxide — durable task orchestration in Go, served to Go, Python, Node.js
# and WebAssembly from one core. `make help` lists the targets.

SHELL := /bin/bash
GO ?= go
GOFLAGS ?=
export CGO_ENABLED := 1

.DEFAULT_GOAL := help

# Each area (C ABI, Python, Node, WebAssembly, PostgreSQL, …) adds its
# targets in mk/<area>.mk and appends its test target to TEST_TARGETS.
TEST_TARGETS :=
-include mk/*.mk

## help: list the targets
.PHONY: help
help:
	@grep -hE '^## ' $(MAKEFILE_LIST) | sed -e 's/^## //' | awk -F': ' '{printf "  %-16s %s\n", $$1, $$2}'

## demo: build and run the hello example on an embedded SQLite file
.PHONY: demo
demo:
	@mkdir -p build
	$(GO) build -o build/hello ./examples/go/hello
	@rm -f build/demo.db build/demo.db-wal build/demo.db-shm
	./build/hello --store sqlite:build/demo.db

## test: install what the tests need and run every test
.PHONY: test
test: lint test-go $(TEST_TARGETS)

## test-go: Go tests with the race detector
.PHONY: test-go
test-go:
	$(GO) test -race -timeout 20m ./...

## lint: gofmt and go vet
.PHONY: lint
lint:
	@fmt_out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$fmt_out" ]; then echo "gofmt would change:"; echo "$$fmt_out"; exit 1; fi
	$(GO) vet ./...

## bench: run the benchmarks (figures, not tests)
.PHONY: bench
bench:
	$(GO) test -run '^$$' -bench . -benchtime 3s ./core/...
