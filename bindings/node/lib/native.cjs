'use strict';
// Loads the native addon (duroxide.node), which links the Go core
// (libduroxide.so, next to it). The addon for this platform ships inside the
// package, in prebuilds/<platform>-<arch>/; a release may instead put it in
// an optional dependency @duroxide/<platform>-<arch>. The loader's error
// lists every place it tried.

const fs = require('node:fs');
const path = require('node:path');
const { LibraryNotFoundError, fromStatus } = require('./errors.cjs');

/** The C ABI version this package speaks (DX_ABI_VERSION). */
const ABI_VERSION = 1;
/** The turn-protocol version carried in every JSON message. */
const PROTOCOL_VERSION = 1;

const PLATFORM = `${process.platform}-${process.arch}`;

let lib = null;
let libPath = null;

function candidates() {
  const out = [];
  if (process.env.DUROXIDE_NODE_ADDON) out.push({ path: process.env.DUROXIDE_NODE_ADDON });
  out.push({ path: path.join(__dirname, '..', 'prebuilds', PLATFORM, 'duroxide.node') });
  out.push({ module: `@duroxide/${PLATFORM}/duroxide.node` });
  return out;
}

/** The loaded addon (loaded on first use). */
function load() {
  if (lib !== null) return lib;
  const tried = [];
  for (const c of candidates()) {
    let p = c.path;
    if (c.module) {
      try {
        p = require.resolve(c.module);
      } catch (_) {
        tried.push(`  ${c.module}: not installed`);
        continue;
      }
    }
    if (!fs.existsSync(p)) {
      tried.push(`  ${p}: no such file`);
      continue;
    }
    let m;
    try {
      m = require(p);
    } catch (e) {
      tried.push(`  ${p}: ${e && e.message ? e.message.split('\n')[0] : e}`);
      continue;
    }
    const abi = m.abiVersion();
    if (abi !== ABI_VERSION) {
      tried.push(`  ${p}: core ABI version ${abi}, this package needs ${ABI_VERSION}`);
      continue;
    }
    m.setErrorFactory(fromStatus);
    lib = m;
    libPath = p;
    return m;
  }
  throw new LibraryNotFoundError(
    `cannot load the duroxide native addon for ${PLATFORM}. Tried:\n${tried.join('\n')}\n` +
      'Build it with `make node` in a duroxide checkout (needs Go and gcc), install a package built for this platform, ' +
      'or set DUROXIDE_NODE_ADDON to the path of duroxide.node (libduroxide.so must sit next to it).',
  );
}

/** The path of the loaded addon. */
function addonPath() {
  load();
  return libPath;
}

/** Versions of the loaded core: {abi, protocol, engine, go}. */
function nativeVersion() {
  return JSON.parse(load().version());
}

module.exports = { load, addonPath, nativeVersion, candidates, ABI_VERSION, PROTOCOL_VERSION, PLATFORM };
