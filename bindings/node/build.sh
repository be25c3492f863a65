#!/usr/bin/env bash
# Builds the native addon of the duroxide npm package, offline, with gcc
# against the Node headers on this machine (no node-gyp, no download):
#
#   prebuilds/<platform>-<arch>/duroxide.node   the N-API addon
#   prebuilds/<platform>-<arch>/libduroxide.so  the Go core it links (rpath $ORIGIN)
#
# Inputs (environment): DUROXIDE_LIB (default <repo>/build/libduroxide.so,
# made by `make capi`), DUROXIDE_INCLUDE (the directory of duroxide.h,
# default next to the library), NODE_INCLUDE (default /usr/include/node, or
# the include/node directory of the running node), CC (default gcc), STRIP.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
lib=${DUROXIDE_LIB:-$repo/build/libduroxide.so}
inc=${DUROXIDE_INCLUDE:-$(dirname "$lib")}
cc=${CC:-gcc}

die() { echo "build.sh: $*" >&2; exit 1; }

[ -f "$lib" ] || die "$lib not found: run \`make capi\` first (or set DUROXIDE_LIB)"
[ -f "$inc/duroxide.h" ] || die "$inc/duroxide.h not found (set DUROXIDE_INCLUDE)"

node_inc=${NODE_INCLUDE:-}
if [ -z "$node_inc" ]; then
	for d in /usr/include/node "$(dirname "$(dirname "$(command -v node)")")/include/node"; do
		if [ -f "$d/node_api.h" ]; then
			node_inc=$d
			break
		fi
	done
fi
[ -n "$node_inc" ] && [ -f "$node_inc/node_api.h" ] || die "node_api.h not found: install the Node headers or set NODE_INCLUDE"

platform=$(node -p 'process.platform + "-" + process.arch')
out=$here/prebuilds/$platform
mkdir -p "$out"
# Copy through a temporary name, so a running process never sees a half-written
# library. The shipped copy loses its symbol table and debug sections (a third
# of its size); its exports and Go's own tables stay. DUROXIDE_NO_STRIP=1 keeps them.
cp "$lib" "$out/.libduroxide.so.tmp"
strip=${STRIP:-strip}
if [ -z "${DUROXIDE_NO_STRIP:-}" ] && command -v "$strip" >/dev/null; then
	"$strip" --strip-unneeded "$out/.libduroxide.so.tmp"
fi
mv -f "$out/.libduroxide.so.tmp" "$out/libduroxide.so"
$cc -std=c11 -O2 -g0 -Wall -Wextra -Werror -fPIC -shared -pthread \
	-fvisibility=hidden -D_GNU_SOURCE -DNODE_GYP_MODULE_NAME=duroxide \
	-I"$node_inc" -I"$inc" \
	-o "$out/.duroxide.node.tmp" "$here/src/duroxide_node.c" \
	-L"$out" -lduroxide -Wl,-rpath,'$ORIGIN'
mv -f "$out/.duroxide.node.tmp" "$out/duroxide.node"
echo "build.sh: built $out/duroxide.node (+ libduroxide.so)"
