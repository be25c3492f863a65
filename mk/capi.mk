# The C ABI: libduroxide.so and duroxide.h (DESIGN.md §5).

CAPI_LIB := build/libduroxide.so
CAPI_HDR := build/duroxide.h

## capi: build the C shared library build/libduroxide.so and its header build/duroxide.h
.PHONY: capi
capi:
	@mkdir -p build
	$(GO) build -buildmode=c-shared -o $(CAPI_LIB) ./capi
	@bash capi/testdata/check_header.sh capi/duroxide.h build/libduroxide.h
	cp capi/duroxide.h $(CAPI_HDR)

## test-capi: build and run the C program that drives an orchestration through duroxide.h
.PHONY: test-capi
test-capi: capi
	gcc -std=c11 -Wall -Wextra -Werror -Ibuild -o build/capi_test capi/testdata/capi_test.c -Lbuild -lduroxide -Wl,-rpath,'$$ORIGIN'
	./build/capi_test

TEST_TARGETS += test-capi
