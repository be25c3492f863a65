#!/usr/bin/env bash
# Starts a private PostgreSQL server for duroxide's tests and prints its DSN.
#
# - Installs the server from Debian's packages when its programs are missing
#   (as root: apt-get install postgresql).
# - Creates a cluster in $DUROXIDE_PG_HOME (default /tmp/duroxide-pg-$PORT),
#   owned by the postgres user when run as root (the server refuses to run as
#   root), listening on 127.0.0.1:$DUROXIDE_PG_PORT (default 55432) and on a
#   private Unix socket in that directory. No systemd: pg_ctl starts it.
# - Creates the role and database duroxide_test (password duroxide_test).
# - Writes the DSN to $DUROXIDE_PG_DSN_FILE (default <repo>/build/pg.dsn) and
#   prints it on stdout (everything else goes to stderr).
#
# Idempotent: a second run finds the server running and just prints the DSN.
# Stop it with scripts/pg-stop.sh.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
port=${DUROXIDE_PG_PORT:-55432}
home=${DUROXIDE_PG_HOME:-/tmp/duroxide-pg-$port}
dsn_file=${DUROXIDE_PG_DSN_FILE:-$repo/build/pg.dsn}
role=duroxide_test
password=duroxide_test
database=duroxide_test

data=$home/data
sock=$home/socket
log=$home/server.log

say() { echo "pg-start: $*" >&2; }
die() {
	echo "pg-start: error: $*" >&2
	exit 1
}

# find_bindir prints the directory of the newest installed server's programs.
find_bindir() {
	if [ -n "${DUROXIDE_PG_BINDIR:-}" ]; then
		[ -x "$DUROXIDE_PG_BINDIR/pg_ctl" ] || die "DUROXIDE_PG_BINDIR=$DUROXIDE_PG_BINDIR has no pg_ctl"
		echo "$DUROXIDE_PG_BINDIR"
		return
	fi
	local d
	# An existing cluster needs the programs of its own version.
	if [ -s "$data/PG_VERSION" ] && [ -x "/usr/lib/postgresql/$(cat "$data/PG_VERSION")/bin/pg_ctl" ]; then
		echo "/usr/lib/postgresql/$(cat "$data/PG_VERSION")/bin"
		return
	fi
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
			echo "$d"
			return
		fi
	done
	if command -v pg_ctl >/dev/null && command -v initdb >/dev/null && command -v postgres >/dev/null; then
		dirname "$(command -v pg_ctl)"
	fi
}

bindir=$(find_bindir)
if [ -z "$bindir" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		die "the PostgreSQL server is not installed and this user cannot install it; run as root, or 'sudo apt-get install -y postgresql', or point DUROXIDE_PG_DSN at a server"
	fi
	command -v apt-get >/dev/null || die "the PostgreSQL server is not installed and apt-get is missing; install PostgreSQL 13 or newer, or point DUROXIDE_PG_DSN at a server"
	say "installing the PostgreSQL server from Debian's packages"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2 || die "apt-get update failed"
	apt-get install -y -qq --no-install-recommends postgresql >&2 || die "apt-get install postgresql failed"
	bindir=$(find_bindir)
	[ -n "$bindir" ] || die "postgresql installed, but no server programs were found under /usr/lib/postgresql"
fi

# as_owner runs a command as the cluster's owner: the postgres user when we
# are root (the server refuses to run as root), else ourselves.
if [ "$(id -u)" -eq 0 ]; then
	id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
	owner=postgres
	as_owner() { runuser -u postgres -- "$@"; }
else
	owner=$(id -un)
	as_owner() { "$@"; }
fi

# The cluster directory must be reachable by its owner: create it (and hand
# it over) ourselves.
if [ ! -d "$home" ]; then
	mkdir -p "$home"
fi
if [ "$(id -u)" -eq 0 ]; then
	chown "$owner": "$home"
fi
chmod 0700 "$home"

if [ ! -s "$data/PG_VERSION" ]; then
	say "initialising a cluster in $data ($("$bindir/postgres" --version))"
	rm -rf "$data"
	as_owner mkdir -p "$data" "$sock"
	pwfile=$(as_owner mktemp "$home/pw.XXXXXX")
	echo "postgres" | as_owner tee "$pwfile" >/dev/null
	as_owner "$bindir/initdb" -D "$data" -U postgres --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \
		--auth-local=trust --auth-host=scram-sha-256 >"$home/initdb.log" 2>&1 ||
		{
			cat "$home/initdb.log" >&2
			die "initdb failed"
		}
	as_owner rm -f "$pwfile"
	as_owner tee -a "$data/postgresql.conf" >/dev/null <<EOF
# duroxide test server (scripts/pg-start.sh)
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sock'
max_connections = 300
shared_buffers = 128MB
log_min_messages = warning
log_min_error_statement = panic
log_line_prefix = '%m [%p] %u@%d '
EOF
fi
as_owner mkdir -p "$sock"

running() { as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; }

if running; then
	say "server already running ($data, port $port)"
else
	say "starting the server on 127.0.0.1:$port"
	if ! as_owner "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 -o "-p $port" start >&2; then
		tail -n 20 "$log" >&2 || true
		die "the server did not start (log: $log); is port $port taken by another server?"
	fi
fi

psql_admin() { as_owner "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$port" -U postgres -d postgres "$@"; }

# The role may create roles (the permission tests make a role without
# privileges) and owns its database.
psql_admin >&2 <<EOF
SELECT 'CREATE ROLE $role LOGIN CREATEROLE' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$role')
\gexec
ALTER ROLE $role LOGIN CREATEROLE PASSWORD '$password';
SELECT 'CREATE DATABASE $database OWNER $role' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$database')
\gexec
EOF

dsn="postgres://$role:$password@127.0.0.1:$port/$database?sslmode=disable"
mkdir -p "$(dirname "$dsn_file")"
echo "$dsn" >"$dsn_file"
echo "$dsn"
