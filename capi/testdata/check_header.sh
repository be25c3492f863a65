#!/usr/bin/env bash
# Checks that the hand-written capi/duroxide.h declares exactly the
# functions cgo exports (build/libduroxide.h), with the same types.
# Usage: check_header.sh DOCUMENTED_HEADER GENERATED_HEADER
set -euo pipefail
norm() {
	grep -E '^(extern )?[a-z].*[ *]dx_[a-z_]+\(.*\);' "$1" |
		sed -E -e 's/^extern //' -e 's/const //g' \
			-e 's/([*[:space:]])[A-Za-z_][A-Za-z0-9_]*([,)])/\1\2/g' \
			-e 's/[[:space:]]+/ /g' -e 's/ ([,)])/\1/g' -e 's/ \*/*/g' |
		sort
}
if ! diff <(norm "$1") <(norm "$2"); then
	echo "check_header: $1 and the exports in $2 differ (< documented, > exported)" >&2
	exit 1
fi
echo "check_header: $(norm "$1" | wc -l) prototypes match"
