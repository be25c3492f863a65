# The PostgreSQL store (core/provider/postgres): a local test server and its tests.
#
# scripts/pg-start.sh installs the server from Debian's packages when it is
# missing (as root), starts it without systemd on 127.0.0.1:55432 and writes
# the DSN to build/pg.dsn, where the tests find it (or set DUROXIDE_PG_DSN).
# Without a server the tests skip, except in CI (CI=true), where they fail.

## pg-start: install (if needed) and start the local PostgreSQL test server; prints its DSN
.PHONY: pg-start
pg-start:
	@bash scripts/pg-start.sh

## pg-stop: stop the local PostgreSQL test server (scripts/pg-stop.sh --purge also deletes it)
.PHONY: pg-stop
pg-stop:
	@bash scripts/pg-stop.sh

## test-postgres: start the test server and run the PostgreSQL store's tests (race detector)
.PHONY: test-postgres
test-postgres: pg-start
	$(GO) test -race -timeout 20m ./core/provider/postgres/...

## bench-postgres: PostgreSQL figures (chain3 orch/s with 1 and 3 runtime processes; pickup latency, NOTIFY vs polling)
.PHONY: bench-postgres
bench-postgres: pg-start
	$(GO) test ./core/provider/postgres -run '^$$' -bench Chain3 -benchtime 2000x
	$(GO) test ./core/provider/postgres -run '^$$' -bench PickupLatency -benchtime 40x

# test-go runs every Go package, this one included: it needs the server.
test-go: pg-start

