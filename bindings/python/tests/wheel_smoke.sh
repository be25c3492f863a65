#!/usr/bin/env bash
# Installs the duroxide wheel into a fresh virtualenv and runs an
# orchestration with Go absent from PATH: the wheel must be self-contained.
# Usage: wheel_smoke.sh WHEEL_DIR PYTHON
set -euo pipefail
wheel_dir=$1
python=${2:-python3}
repo=$(cd "$(dirname "$0")/../../.." && pwd)
wheels=("$wheel_dir"/duroxide-*.whl)
[ "${#wheels[@]}" -eq 1 ] || { echo "wheel_smoke: want exactly one wheel in $wheel_dir, found ${#wheels[@]}" >&2; exit 1; }
wheel=$(cd "$(dirname "${wheels[0]}")" && pwd)/$(basename "${wheels[0]}")
case "$wheel" in
*-none-any.whl) echo "wheel_smoke: $wheel is tagged none-any, want a platform tag" >&2; exit 1 ;;
esac
venv=$repo/build/wheel-venv
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-index "$wheel"

# PATH without any directory that holds a go executable.
nogo=""
IFS=: read -ra dirs <<<"$PATH"
for d in "${dirs[@]}"; do
	[ -n "$d" ] && [ ! -x "$d/go" ] && nogo="${nogo:+$nogo:}$d"
done
if env PATH="$nogo" bash -c 'command -v go' >/dev/null 2>&1; then
	echo "wheel_smoke: go is still findable on the stripped PATH" >&2
	exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
env -u DUROXIDE_LIBRARY -u GOROOT -u GOPATH PATH="$nogo" "$venv/bin/python" "$repo/bindings/python/tests/wheel_smoke.py" "$venv"
echo "wheel_smoke: 1 passed, 0 failed"
