# The Node.js package (bindings/node): a hand-written N-API addon over the
# Go core, built offline with gcc against the Node headers, plus the JS
# driver, ESM/CommonJS entry points and TypeScript types (DESIGN.md §5).

NODE ?= node
NPM ?= npm
NODE_PKG := bindings/node
NODE_TEST_DIR := build/node-test
NODE_TYPED := $(NODE_PKG)/test/typed

## node: build the Node package's addon into bindings/node/prebuilds/<platform>-<arch>/ (next to libduroxide.so)
.PHONY: node
node: capi
	bash $(NODE_PKG)/build.sh

## test-node: the Node suite (scenarios, API, Go and Python cross-language, PostgreSQL) with node --test, the tsc check, a fresh-project npm install
.PHONY: test-node
test-node: node python
	@mkdir -p $(NODE_TEST_DIR)
	$(GO) build -buildvcs=false -o $(NODE_TEST_DIR)/gohost ./bindings/python/tests/gohost
	cd $(NODE_TYPED) && $(NPM) ci --no-audit --no-fund --loglevel=error
	cd $(NODE_TYPED) && ./node_modules/.bin/tsc --noEmit -p . && rm -rf build \
		&& ./node_modules/.bin/tsc -p . --noEmit false --outDir build && $(NODE) build/example.mjs >/dev/null
	DUROXIDE_GOHOST=$(CURDIR)/$(NODE_TEST_DIR)/gohost DUROXIDE_PYTHON=$(CURDIR)/$(VENV_PY) \
		$(NODE) --test --test-concurrency=2 $(NODE_PKG)/test/*.test.mjs
	bash $(NODE_PKG)/test/install_smoke.sh

## bench-node: per-turn overhead of the Node driver and Chain3 orchestrations/s, Node versus Go
.PHONY: bench-node
bench-node: node
	$(NODE) $(NODE_PKG)/bench/bench.mjs

## clean-node: remove the Node package's build outputs and test dependencies
.PHONY: clean-node
clean-node:
	rm -rf $(NODE_PKG)/prebuilds $(NODE_TYPED)/node_modules $(NODE_TYPED)/build $(NODE_TEST_DIR)

# In CI the PostgreSQL scenarios must run, not skip: start the test server
# (mk/postgres.mk) first. Elsewhere they use it if build/pg.dsn or
# DUROXIDE_PG_DSN names one, and skip with the reason otherwise.
ifeq ($(CI),true)
test-node: pg-start
endif

TEST_TARGETS += test-node
