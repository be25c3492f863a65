#!/usr/bin/env bash
# Installs the duroxide package into fresh projects outside the repository,
# offline and without install scripts, and runs an orchestration from ESM
# and from CommonJS in each:
#   1. the tarball `npm pack` makes (the release shape: files are copied);
#   2. `npm install <path to bindings/node>` (a directory install).
# The built addon must ship inside the package (prebuilds/<platform>-<arch>).
set -euo pipefail
pkg=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/duroxide-node-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
platform=$(node -p 'process.platform + "-" + process.arch')

[ -f "$pkg/prebuilds/$platform/duroxide.node" ] || { echo "install_smoke: $pkg/prebuilds/$platform/duroxide.node missing: run make node" >&2; exit 1; }

# What the tarball holds.
(cd "$work" && npm pack --silent "$pkg" >pack.out)
tarball=$work/$(tail -n1 "$work/pack.out")
[ -f "$tarball" ] || { echo "install_smoke: npm pack made no tarball" >&2; exit 1; }
listing=$(tar -tzf "$tarball")
for f in package/package.json package/index.cjs package/index.mjs package/index.d.ts package/lib/runtime.cjs \
	"package/prebuilds/$platform/duroxide.node" "package/prebuilds/$platform/libduroxide.so"; do
	grep -qx "$f" <<<"$listing" || { echo "install_smoke: $f is not in the tarball" >&2; exit 1; }
done
if grep -q '^package/test/' <<<"$listing"; then echo "install_smoke: tests leaked into the tarball" >&2; exit 1; fi

write_app() {
	cat >"$1/app.mjs" <<'JS'
import { Client, Runtime, SqliteProvider, addonPath } from 'duroxide';
const provider = await SqliteProvider.inMemory();
const rt = new Runtime(provider, { logger: null });
rt.registerActivity('Hello', async (ctx, name) => `Hello, ${name}!`);
rt.registerOrchestration('HelloWorld', function* (ctx, name) {
  yield ctx.scheduleActivity('Hello', 'Go');
  return yield ctx.scheduleActivity('Hello', name);
});
await rt.start();
const client = new Client(provider);
await client.startOrchestration('hello-1', 'HelloWorld', 'World');
const st = await client.waitForOrchestration('hello-1', 10000);
await rt.shutdown();
console.log(`esm ${st.status} ${st.output} ${addonPath()}`);
JS
	cat >"$1/app.cjs" <<'JS'
const { Client, Runtime, SqliteProvider } = require('duroxide');
(async () => {
  const provider = await SqliteProvider.inMemory();
  const rt = new Runtime(provider, { logger: null });
  rt.registerActivity('Hello', async (ctx, name) => `Hello, ${name}!`);
  rt.registerOrchestration('HelloWorld', function* (ctx, name) {
    return yield ctx.scheduleActivity('Hello', name);
  });
  await rt.start();
  const client = new Client(provider);
  await client.startOrchestration('hello-2', 'HelloWorld', 'CommonJS');
  const st = await client.waitForOrchestration('hello-2', 10000);
  await rt.shutdown();
  console.log(`cjs ${st.status} ${st.output}`);
})();
JS
}

check_app() { # dir, expected addon prefix
	local dir=$1 want=$2 out
	out=$(cd "$dir" && env -u DUROXIDE_NODE_ADDON timeout 60 node app.mjs)
	case "$out" in
	"esm Completed Hello, World! $want"*) ;;
	*) echo "install_smoke: unexpected output in $dir: $out" >&2; exit 1 ;;
	esac
	out=$(cd "$dir" && env -u DUROXIDE_NODE_ADDON timeout 60 node app.cjs)
	[ "$out" = "cjs Completed Hello, CommonJS!" ] || { echo "install_smoke: unexpected output in $dir: $out" >&2; exit 1; }
}

# 1. The tarball, offline, no scripts.
mkdir "$work/from-tarball"
(cd "$work/from-tarball" && npm init -y >/dev/null && npm install --offline --ignore-scripts --no-audit --no-fund "$tarball" >/dev/null)
write_app "$work/from-tarball"
check_app "$work/from-tarball" "$work/from-tarball/node_modules/duroxide/prebuilds/$platform/duroxide.node"

# 2. The package directory.
mkdir "$work/from-dir"
(cd "$work/from-dir" && npm init -y >/dev/null && npm install --offline --ignore-scripts --no-audit --no-fund "$pkg" >/dev/null)
write_app "$work/from-dir"
check_app "$work/from-dir" ""

echo "install_smoke: 2 passed, 0 failed ($(du -h "$tarball" | cut -f1) tarball)"
