"""ctypes bindings to libduroxide (the Go core built as a C shared library).

Every call releases the GIL (ctypes.CDLL, never PyDLL), so a thread
blocked in dx_poll or a client wait does not stop other Python threads.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import signal
import threading
from ctypes import POINTER, byref, c_char_p, c_int, c_int32, c_int64, c_size_t, c_uint64, c_void_p
from typing import Any, List, Optional, Tuple

from .errors import (
    AlreadyRegisteredError,
    ClosedError,
    DuroxideError,
    DuroxideTimeoutError,
    ForkedProcessError,
    HandleError,
    InvalidArgumentError,
    LibraryNotFoundError,
    NotFoundError,
)

#: The ABI version this package speaks (DX_ABI_VERSION of duroxide.h).
ABI_VERSION = 1
#: The turn-protocol version carried in every JSON message.
PROTOCOL_VERSION = 1

# Status codes (duroxide.h).
DX_OK = 0
DX_ERR = 1
DX_ERR_HANDLE = 2
DX_ERR_INVALID = 3
DX_ERR_NOT_FOUND = 4
DX_ERR_TIMEOUT = 5
DX_ERR_PANIC = 6
DX_ERR_FORKED = 7
DX_ERR_CLOSED = 8
DX_ERR_EXISTS = 9

_ERRORS = {
    DX_ERR_HANDLE: HandleError,
    DX_ERR_INVALID: InvalidArgumentError,
    DX_ERR_NOT_FOUND: NotFoundError,
    DX_ERR_TIMEOUT: DuroxideTimeoutError,
    DX_ERR_FORKED: ForkedProcessError,
    DX_ERR_CLOSED: ClosedError,
    DX_ERR_EXISTS: AlreadyRegisteredError,
}

LIBRARY_NAME = "libduroxide.so"

_lib: Optional[ctypes.CDLL] = None
_lib_path: Optional[str] = None
_lock = threading.Lock()
_PID = os.getpid()


def _candidates() -> List[str]:
    here = os.path.dirname(os.path.abspath(__file__))
    paths = []
    env = os.environ.get("DUROXIDE_LIBRARY")
    if env:
        paths.append(env)
    paths.append(os.path.join(here, LIBRARY_NAME))
    # A development checkout: <repo>/bindings/python/duroxide → <repo>/build.
    paths.append(os.path.normpath(os.path.join(here, "..", "..", "..", "build", LIBRARY_NAME)))
    found = ctypes.util.find_library("duroxide")
    if found:
        paths.append(found)
    return paths


def _load_blocking_signals(path: str) -> ctypes.CDLL:
    """Load the library with asynchronous signals blocked on this thread.

    The Go runtime's threads inherit the signal mask of the thread that
    loads the library; blocking SIGINT and friends here means the kernel
    never delivers Ctrl-C to a Go thread, only to Python's, so Python's
    handler runs where it expects to (and KeyboardInterrupt works).
    """
    sigs = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM}
    old = None
    if hasattr(signal, "pthread_sigmask"):
        old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        lib = ctypes.CDLL(path)
        lib.dx_abi_version.restype = c_int
        lib.dx_abi_version.argtypes = []
        lib.dx_abi_version()  # waits for the Go runtime to initialise
        return lib
    finally:
        if old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


def lib() -> ctypes.CDLL:
    """The loaded library (loaded on first use)."""
    global _lib, _lib_path
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is not None:
            return _lib
        tried = []
        for path in _candidates():
            if not os.path.sep in path and not path.startswith("lib"):
                continue
            if os.path.sep in path and not os.path.exists(path):
                tried.append(f"  {path}: no such file")
                continue
            try:
                loaded = _load_blocking_signals(path)
            except OSError as e:
                tried.append(f"  {path}: {e}")
                continue
            got = loaded.dx_abi_version()
            if got != ABI_VERSION:
                tried.append(f"  {path}: ABI version {got}, this package needs {ABI_VERSION}")
                continue
            _declare(loaded)
            _lib, _lib_path = loaded, path
            return loaded
        raise LibraryNotFoundError(
            "cannot load libduroxide.so (the duroxide core). Tried:\n"
            + "\n".join(tried or ["  (no candidate paths)"])
            + "\nReinstall the package (building it needs Go: pip install ./bindings/python), "
            "run `make capi`, or set DUROXIDE_LIBRARY to the library's path."
        )


def library_path() -> str:
    """The path of the loaded library."""
    lib()
    assert _lib_path is not None
    return _lib_path


def _declare(l: ctypes.CDLL) -> None:
    u64p = POINTER(c_uint64)
    vpp = POINTER(c_void_p)
    szp = POINTER(c_size_t)
    sig = {
        "dx_free": (None, [c_void_p]),
        "dx_version": (c_int, [vpp, szp, vpp]),
        "dx_store_open": (c_int, [c_char_p, c_char_p, u64p, vpp]),
        "dx_store_close": (c_int, [c_uint64, vpp]),
        "dx_runtime_new": (c_int, [c_uint64, c_char_p, u64p, vpp]),
        "dx_runtime_register_orchestration": (c_int, [c_uint64, c_char_p, c_char_p, vpp]),
        "dx_runtime_register_activity": (c_int, [c_uint64, c_char_p, vpp]),
        "dx_runtime_start": (c_int, [c_uint64, vpp]),
        "dx_runtime_shutdown": (c_int, [c_uint64, c_int64, vpp]),
        "dx_runtime_close": (c_int, [c_uint64, vpp]),
        "dx_runtime_metrics": (c_int, [c_uint64, vpp, szp, vpp]),
        "dx_poll": (c_int, [c_uint64, c_int32, c_int64, vpp, szp, vpp]),
        "dx_complete_activation": (c_int, [c_uint64, c_uint64, c_char_p, c_size_t, vpp]),
        "dx_complete_activity": (c_int, [c_uint64, c_uint64, c_int, c_char_p, c_size_t, vpp]),
        "dx_client_new": (c_int, [c_uint64, u64p, vpp]),
        "dx_client_close": (c_int, [c_uint64, vpp]),
        "dx_client_call": (c_int, [c_uint64, c_char_p, c_size_t, vpp, szp, vpp]),
        "dx_client_call_async": (c_int, [c_uint64, c_char_p, c_size_t, u64p, vpp]),
    }
    for name, (res, args) in sig.items():
        fn = getattr(l, name)
        fn.restype = res
        fn.argtypes = args


def check_process(what: str = "duroxide") -> None:
    """Refuse to call into Go from a forked child process."""
    if os.getpid() != _PID:
        raise ForkedProcessError(
            f"{what} cannot be used in a child process created by fork(): the Go runtime inside "
            "libduroxide does not survive fork(). Create new providers, runtimes and clients in the "
            "child, or use multiprocessing's 'spawn' start method."
        )


def _take(p: c_void_p, n: Optional[int] = None) -> bytes:
    if not p.value:
        return b""
    try:
        return ctypes.string_at(p.value, n) if n is not None else ctypes.string_at(p.value)
    finally:
        _lib.dx_free(p)  # type: ignore[union-attr]


def raise_for(rc: int, err: c_void_p) -> None:
    msg = _take(err).decode("utf-8", "replace") if err.value else f"status {rc}"
    cls = _ERRORS.get(rc, DuroxideError)
    raise cls(msg, code=rc)


def call(fn_name: str, *args: Any) -> None:
    """Call a dx_* function that returns only a status."""
    check_process()
    err = c_void_p()
    rc = getattr(lib(), fn_name)(*args, byref(err))
    if rc != DX_OK:
        raise_for(rc, err)


def call_out(fn_name: str, *args: Any) -> bytes:
    """Call a dx_* function that returns a buffer."""
    check_process()
    out = c_void_p()
    n = c_size_t()
    err = c_void_p()
    rc = getattr(lib(), fn_name)(*args, byref(out), byref(n), byref(err))
    if rc != DX_OK:
        _take(out)
        raise_for(rc, err)
    return _take(out, n.value)


def call_handle(fn_name: str, *args: Any) -> int:
    """Call a dx_* function that creates a handle."""
    check_process()
    h = c_uint64()
    err = c_void_p()
    rc = getattr(lib(), fn_name)(*args, byref(h), byref(err))
    if rc != DX_OK:
        raise_for(rc, err)
    return h.value


def cstr(s: Optional[str]) -> Optional[bytes]:
    return None if s is None else s.encode("utf-8")


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def version() -> dict:
    return json.loads(call_out("dx_version"))


# Direct, allocation-light entry points for the hot paths of the runtime's
# poll thread.


def poll(handle: int, max_items: int, timeout_ms: int) -> Tuple[int, Optional[bytes], str]:
    """dx_poll: returns (status, items JSON or None, error text)."""
    l = _lib if _lib is not None else lib()
    out = c_void_p()
    n = c_size_t()
    err = c_void_p()
    rc = l.dx_poll(handle, max_items, timeout_ms, byref(out), byref(n), byref(err))
    if rc != DX_OK:
        return rc, None, _take(err).decode("utf-8", "replace")
    if not out.value:
        return rc, None, ""
    return rc, _take(out, n.value), ""


def complete(fn_name: str, *args: Any) -> Tuple[int, str]:
    """dx_complete_*: returns (status, error text)."""
    l = _lib if _lib is not None else lib()
    err = c_void_p()
    rc = getattr(l, fn_name)(*args, byref(err))
    if rc != DX_OK:
        return rc, _take(err).decode("utf-8", "replace")
    return rc, ""
