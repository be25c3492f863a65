# WebAssembly orchestrations (DESIGN.md §7): the example guest modules,
# built with the standard Go toolchain, and a run of the host example.
# The Go tests of wasm/ and wasm/guest run under `make test-go`; they build
# their own guest modules.

WASM_OUT     := build/wasm
WASM_MODULES := hello approval
WASM_GOENV   := GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 GOFLAGS=

## wasm: build the example WebAssembly orchestration modules into build/wasm/*.wasm
.PHONY: wasm
wasm:
	@mkdir -p $(WASM_OUT)
	@for m in $(WASM_MODULES); do \
		echo "$(WASM_GOENV) $(GO) build -buildmode=c-shared -o $(WASM_OUT)/$$m.wasm ./examples/wasm/$$m"; \
		$(WASM_GOENV) $(GO) build -buildmode=c-shared -o $(WASM_OUT)/$$m.wasm ./examples/wasm/$$m || exit 1; \
	done

## wasm-demo: build the example modules and run one on an embedded SQLite file
.PHONY: wasm-demo
wasm-demo: wasm
	@rm -f build/wasm-demo.db build/wasm-demo.db-wal build/wasm-demo.db-shm
	$(GO) run ./examples/wasm/host --wasm $(WASM_OUT) --store sqlite:build/wasm-demo.db --run HelloWasm --input World

## test-wasm: vet the guest code for wasip1, build the example modules and run the demo
.PHONY: test-wasm
test-wasm: wasm-demo
	$(WASM_GOENV) $(GO) vet ./wasm/guest $(WASM_MODULES:%=./examples/wasm/%) $(addprefix ./wasm/testdata/guests/,scenarios deploy_v1 deploy_v2 changed)

TEST_TARGETS += test-wasm
