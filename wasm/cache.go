package wasm

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

const wasmtimeModule = "github.com/bytecodealliance/wasmtime-go/v39"

// engineFingerprint identifies what compiled code depends on: the wasmtime
// version, the platform and the engine settings. It is part of every cache
// key, so upgrading wasmtime or changing a setting never loads stale code
// (wasmtime would also refuse it; the key avoids even trying).
func engineFingerprint() string {
	version := "v39-unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == wasmtimeModule {
				version = d.Version
				if d.Replace != nil {
					version += "=>" + d.Replace.Path + "@" + d.Replace.Version
				}
			}
		}
	}
	sum := sha256.Sum256([]byte(fmt.Sprintf("wasmtime-go %s|%s/%s|consume_fuel=1|opt=speed|abi=1", version, goruntime.GOOS, goruntime.GOARCH)))
	return hex.EncodeToString(sum[:8])
}

// cachePath is where the compiled form of a module is kept.
func (h *Host) cachePath(sum [32]byte) string {
	return filepath.Join(h.opts.CacheDir, hex.EncodeToString(sum[:16])+"-"+h.fingerprint+".cwasm")
}

// Cache entries are wasmtime's serialised module followed by a trailer: the
// SHA-256 of the serialised bytes and a magic string. Wasmtime trusts its
// serialised form (loading a truncated file crashes the process), so an
// entry whose checksum does not match is never handed to it.
const cacheMagic = "duroxide-cwasm-1"

// compile returns the compiled module: deserialised from the cache when a
// sound entry exists, else compiled and (best effort) stored.
func (h *Host) compile(b []byte, sum [32]byte) (*wasmtime.Module, bool, error) {
	if h.opts.DisableCache {
		m, err := wasmtime.NewModule(h.engine, b)
		return m, false, err
	}
	path := h.cachePath(sum)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if body, ok := openCacheEntry(data); ok {
			m, err := wasmtime.NewModuleDeserialize(h.engine, body)
			if err == nil {
				return m, true, nil
			}
			h.log.Warn("wasm cache entry refused by wasmtime; compiling again", "path", path, LogError, err)
		} else {
			h.log.Warn("wasm cache entry damaged; compiling again", "path", path)
		}
		_ = os.Remove(path)
	case !errors.Is(err, fs.ErrNotExist):
		h.log.Warn("wasm cache entry unreadable; compiling", "path", path, LogError, err)
	}
	m, err := wasmtime.NewModule(h.engine, b)
	if err != nil {
		return nil, false, err
	}
	if err := writeCache(path, m); err != nil {
		h.log.Warn("wasm cache entry not written", "path", path, LogError, err)
	}
	return m, false, nil
}

// openCacheEntry checks an entry's trailer and returns its body.
func openCacheEntry(data []byte) ([]byte, bool) {
	n := len(data) - sha256.Size - len(cacheMagic)
	if n <= 0 || string(data[len(data)-len(cacheMagic):]) != cacheMagic {
		return nil, false
	}
	body := data[:n]
	sum := sha256.Sum256(body)
	return body, bytes.Equal(sum[:], data[n:n+sha256.Size])
}

// writeCache stores a compiled module atomically (write, then rename).
func writeCache(path string, m *wasmtime.Module) error {
	data, err := m.Serialize()
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	data = append(append(data, sum[:]...), cacheMagic...)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".compile-*.tmp")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		_ = os.Remove(tmp.Name())
	}
	return werr
}
