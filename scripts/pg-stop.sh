#!/usr/bin/env bash
# Stops the test server that scripts/pg-start.sh started (same environment
# variables: DUROXIDE_PG_PORT, DUROXIDE_PG_HOME, DUROXIDE_PG_DSN_FILE) and
# removes the DSN file, so that tests do not try a stopped server. With
# --purge it also deletes the cluster. Idempotent.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
port=${DUROXIDE_PG_PORT:-55432}
home=${DUROXIDE_PG_HOME:-/tmp/duroxide-pg-$port}
dsn_file=${DUROXIDE_PG_DSN_FILE:-$repo/build/pg.dsn}
data=$home/data

purge=false
for a in "$@"; do
	case "$a" in
	--purge) purge=true ;;
	*)
		echo "usage: $0 [--purge]" >&2
		exit 2
		;;
	esac
done

# The programs of the cluster's own version, else the newest installed.
bindir=${DUROXIDE_PG_BINDIR:-}
if [ -z "$bindir" ] && [ -s "$data/PG_VERSION" ] && [ -x "/usr/lib/postgresql/$(cat "$data/PG_VERSION")/bin/pg_ctl" ]; then
	bindir=/usr/lib/postgresql/$(cat "$data/PG_VERSION")/bin
fi
if [ -z "$bindir" ]; then
	bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r | head -n 1 || true)
fi

if [ -s "$data/PG_VERSION" ] && [ -n "$bindir" ] && [ -x "$bindir/pg_ctl" ]; then
	if [ "$(id -u)" -eq 0 ]; then
		as_owner() { runuser -u postgres -- "$@"; }
	else
		as_owner() { "$@"; }
	fi
	if as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
		as_owner "$bindir/pg_ctl" -D "$data" -w -t 60 -m fast stop >&2
	else
		echo "pg-stop: server not running ($data)" >&2
	fi
else
	echo "pg-stop: no cluster at $data" >&2
fi

rm -f "$dsn_file"
if $purge; then
	rm -rf "$home"
	echo "pg-stop: removed $home" >&2
fi
