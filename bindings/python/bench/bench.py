"""Benchmark of the Python driver over the C ABI, against the same workload
in Go, in one run on one machine.

    python bindings/python/bench/bench.py [--instances 400] [--no-go]

Reports:
  * per-turn overhead of the Python driver: the round trip of one
    activation as the Go engine sees it (poll item out, commands back),
    the part of it spent in Python, and the pure driver cost without the
    ABI;
  * 3-activity-chain orchestrations/s in Python (1 and 16 starters), and
    the Go benchmark BenchmarkChain3 (core/runtime) on the same machine.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from duroxide import Client, Runtime, SqliteProvider, _native
from duroxide._driver import Driver
from duroxide.context import OrchestrationContext

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def chain3(ctx, s):
    for _ in range(3):
        s = yield ctx.schedule_activity("Step", s)
    return s


def step(ctx, s):
    return s + "x"


def bench_python_chain(n: int, starters: int):
    work = tempfile.mkdtemp()
    provider = SqliteProvider.open(os.path.join(work, "bench.db"))
    rt = Runtime(provider)
    rt.register_activity("Step", step)
    rt.register_orchestration("Chain3", chain3)
    rt.start()
    client = Client(provider)
    # Warm up (imports, first turns).
    for i in range(10):
        client.start_orchestration(f"warm-{i}", "Chain3", "a")
        client.wait_for_orchestration(f"warm-{i}", 60000)
    m0 = rt.metrics_snapshot()
    nxt = [0]
    lock = threading.Lock()
    lat = []
    failures = []

    def worker():
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= n:
                return
            iid = f"chain-{i}"
            t0 = time.perf_counter()
            client.start_orchestration(iid, "Chain3", "a")
            st = client.wait_for_orchestration(iid, 60000)
            if st.status != "Completed" or st.output != "axxx":
                failures.append(st)
                return
            lat.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(starters)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    m1 = rt.metrics_snapshot()
    rt.shutdown()
    client.close()
    provider.close()
    shutil.rmtree(work, ignore_errors=True)
    if failures:
        raise SystemExit(f"bench failed: {failures[0]}")
    acts = m1["host_activations"] - m0["host_activations"]
    rtt_us = (m1["host_activation_ns_total"] - m0["host_activation_ns_total"]) / max(acts, 1) / 1000
    py_us = (m1["python_activation_ns_total"] - m0["python_activation_ns_total"]) / max(m1["python_activations"] - m0["python_activations"], 1) / 1000
    lat.sort()
    return {
        "orch_per_s": n / elapsed,
        "p50_ms": lat[len(lat) // 2] * 1000,
        "p99_ms": lat[min(len(lat) - 1, len(lat) * 99 // 100)] * 1000,
        "turns": acts,
        "turns_per_orch": acts / n,
        "rtt_us": rtt_us,
        "python_us": py_us,
    }


def bench_driver_only(rounds: int = 20000) -> float:
    """µs per activation of the Python driver alone (no ABI, no engine):
    one Chain3 execution driven through its 4 activations."""

    def run_once():
        d = Driver(chain3, OrchestrationContext)
        base = {"protocol": 1, "instance": "i", "execution_id": 1, "name": "Chain3", "version": "1.0.0"}
        d.activate(dict(base, jobs=[{"kind": "start", "input": "a"}]))
        s = "a"
        for seq in (1, 2, 3):
            s += "x"
            d.activate(dict(base, jobs=[{"kind": "activity", "seq": seq, "result": s}]))

    for _ in range(200):
        run_once()
    t0 = time.perf_counter()
    for _ in range(rounds // 4):
        run_once()
    return (time.perf_counter() - t0) / rounds * 1e6


def bench_abi_call(n: int = 200000) -> float:
    """µs per trivial ctypes call into Go (dx_abi_version)."""
    lib = _native.lib()
    f = lib.dx_abi_version
    for _ in range(1000):
        f()
    t0 = time.perf_counter()
    for _ in range(n):
        f()
    return (time.perf_counter() - t0) / n * 1e6


def bench_go(n: int):
    go = shutil.which("go")
    if go is None:
        return None, "go not on PATH"
    cmd = [go, "test", "-run", "^$", "-bench", "Chain3", "-benchtime", f"{n}x", "./core/runtime/"]
    p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if p.returncode != 0:
        return None, p.stdout + p.stderr
    res = {}
    for line in p.stdout.splitlines():
        m = re.match(r"BenchmarkChain3/starters=(\d+)\S*\s+\d+\s+(.*)", line)
        if m:
            fields = dict((unit, float(v)) for v, unit in re.findall(r"([\d.]+) (\S+)", m.group(2)))
            res[int(m.group(1))] = fields
    return res, " ".join(cmd)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--instances", type=int, default=400)
    ap.add_argument("--no-go", action="store_true")
    args = ap.parse_args()

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
          f"Python {platform.python_version()}, library {_native.library_path()}")
    abi_us = bench_abi_call()
    drv_us = bench_driver_only()
    py = {s: bench_python_chain(args.instances, s) for s in (1, 16)}
    gores, gocmd = (None, "skipped") if args.no_go else bench_go(args.instances)

    print()
    print("per-turn overhead of the Python driver (3-activity chain, SQLite file store)")
    r = py[1]
    print(f"  activation round trip seen by the engine : {r['rtt_us']:8.1f} µs/turn   (poll item out → commands back)")
    print(f"    of which in Python (decode, driver, encode, complete): {r['python_us']:6.1f} µs/turn")
    print(f"  Python driver alone (no ABI, no engine)  : {drv_us:8.1f} µs/turn")
    print(f"  one trivial ctypes call into Go          : {abi_us:8.2f} µs")
    print(f"  turns per orchestration                  : {r['turns_per_orch']:8.2f}")
    print()
    print("3-activity-chain orchestrations/s (start + wait per instance, SQLite file store)")
    print(f"  {'':12} {'Python':>10} {'Go':>10} {'Py/Go':>7}   {'Py p50':>8} {'Go p50':>8}")
    for s in (1, 16):
        g = (gores or {}).get(s, {})
        gos = g.get("orch/s")
        ratio = f"{py[s]['orch_per_s'] / gos:6.2f}x" if gos else "   n/a"
        print(f"  starters={s:<3} {py[s]['orch_per_s']:10.1f} {gos if gos else float('nan'):10.1f} {ratio}   "
              f"{py[s]['p50_ms']:6.2f}ms {g.get('p50-ms', float('nan')):6.2f}ms")
    print(f"\nGo workload: {gocmd}")


if __name__ == "__main__":
    main()
