// Benchmark of the Node driver over the N-API addon, against the same
// workload in Go, in one run on one machine.
//
//   node bindings/node/bench/bench.mjs [--instances 400] [--no-go]
//
// Reports:
//   * per-turn overhead of the Node driver: the round trip of one activation
//     as the Go engine sees it (poll item out, pump thread, event loop,
//     commands back), the part of it spent in JavaScript, the pure driver
//     cost without the ABI, and one trivial N-API call into Go;
//   * 3-activity-chain orchestrations/s in Node (1 and 16 concurrent
//     starters) and the Go benchmark BenchmarkChain3 (core/runtime) on the
//     same machine, on a SQLite file store with default options.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

import { Client, Runtime, SqliteProvider, addonPath } from '../index.mjs';

const require = createRequire(import.meta.url);
const native = require('../lib/native.cjs');
const { Driver } = require('../lib/driver.cjs');
const { OrchestrationContext } = require('../lib/context.cjs');

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function arg(name, def) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : def;
}
const INSTANCES = Number(arg('--instances', '400'));
const NO_GO = process.argv.includes('--no-go');

function* chain3(ctx, s) {
  for (let i = 0; i < 3; i++) s = yield ctx.scheduleActivity('Step', s);
  return s;
}
const step = async (ctx, s) => s + 'x';

async function benchNodeChain(n, starters) {
  const work = mkdtempSync(path.join(os.tmpdir(), 'duroxide-node-bench-'));
  const provider = await SqliteProvider.open(path.join(work, 'bench.db'));
  const rt = new Runtime(provider, { logger: null });
  rt.registerActivity('Step', step);
  rt.registerOrchestration('Chain3', chain3);
  await rt.start();
  const client = new Client(provider);
  for (let i = 0; i < 10; i++) {
    // warm up (JIT, first turns)
    await client.startOrchestration(`warm-${i}`, 'Chain3', 'a');
    await client.waitForOrchestration(`warm-${i}`, 60000);
  }
  const m0 = rt.metricsSnapshot();
  let next = 0;
  const lat = [];
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      const id = `chain-${i}`;
      const t0 = performance.now();
      await client.startOrchestration(id, 'Chain3', 'a');
      const st = await client.waitForOrchestration(id, 60000);
      if (st.status !== 'Completed' || st.output !== 'axxx') throw new Error(`bench failed: ${JSON.stringify(st)}`);
      lat.push(performance.now() - t0);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: starters }, worker));
  const elapsed = (performance.now() - t0) / 1000;
  const m1 = rt.metricsSnapshot();
  await rt.shutdown();
  await client.close();
  await provider.close();
  rmSync(work, { recursive: true, force: true });
  const acts = m1.hostActivations - m0.hostActivations;
  lat.sort((a, b) => a - b);
  return {
    orchPerS: n / elapsed,
    p50: lat[Math.floor(lat.length / 2)],
    p99: lat[Math.min(lat.length - 1, Math.floor((lat.length * 99) / 100))],
    turnsPerOrch: acts / n,
    rttUs: (m1.hostActivationNsTotal - m0.hostActivationNsTotal) / Math.max(acts, 1) / 1000,
    jsUs: (m1.jsActivationNsTotal - m0.jsActivationNsTotal) / Math.max(m1.jsActivations - m0.jsActivations, 1) / 1000,
  };
}

/** µs per activation of the JS driver alone (no ABI, no engine): one Chain3 execution through its 4 activations, JSON in and out. */
function benchDriverOnly(rounds = 40000) {
  const base = { protocol: 1, instance: 'i', execution_id: 1, name: 'Chain3', version: '1.0.0' };
  const acts = [JSON.stringify({ ...base, jobs: [{ kind: 'start', input: 'a' }] })];
  let s = 'a';
  for (const seq of [1, 2, 3]) {
    s += 'x';
    acts.push(JSON.stringify({ ...base, jobs: [{ kind: 'activity', seq, result: s }] }));
  }
  const runOnce = () => {
    const d = new Driver(chain3, (x) => new OrchestrationContext(x), null);
    for (const a of acts) JSON.stringify({ protocol: 1, commands: d.activate(JSON.parse(a)) });
  };
  for (let i = 0; i < 2000; i++) runOnce();
  const t0 = performance.now();
  for (let i = 0; i < rounds / 4; i++) runOnce();
  return ((performance.now() - t0) / rounds) * 1000;
}

/** µs per trivial N-API call into Go (dx_abi_version). */
function benchAbiCall(n = 1000000) {
  const lib = native.load();
  for (let i = 0; i < 10000; i++) lib.abiVersion();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) lib.abiVersion();
  return ((performance.now() - t0) / n) * 1000;
}

function benchGo(n) {
  const cmd = ['test', '-run', '^$', '-bench', 'Chain3', '-benchtime', `${n}x`, './core/runtime/'];
  let out;
  try {
    out = execFileSync('go', cmd, { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    return { res: null, cmd: `go ${cmd.join(' ')} failed: ${e.message.split('\n')[0]}` };
  }
  const res = {};
  for (const line of out.split('\n')) {
    const m = /^BenchmarkChain3\/starters=(\d+)\S*\s+\d+\s+(.*)$/.exec(line);
    if (!m) continue;
    const fields = {};
    for (const [, v, unit] of m[2].matchAll(/([\d.]+) (\S+)/g)) fields[unit] = Number(v);
    res[Number(m[1])] = fields;
  }
  return { res, cmd: `go ${cmd.join(' ')}` };
}

const f = (v, w, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a').padStart(w);

const cpus = os.cpus();
console.log(
  `machine: ${os.arch()}, ${cpus.length} cores (${cpus[0] ? cpus[0].model.trim() : '?'}), ${os.type()} ${os.release()}, ` +
    `Node ${process.version}, addon ${addonPath()}`,
);
const abiUs = benchAbiCall();
const drvUs = benchDriverOnly();
const nodeRes = {};
for (const s of [1, 16]) nodeRes[s] = await benchNodeChain(INSTANCES, s);
const go = NO_GO ? { res: null, cmd: 'skipped' } : benchGo(INSTANCES);

const r = nodeRes[1];
console.log('\nper-turn overhead of the Node driver (3-activity chain, SQLite file store, 1 starter)');
console.log(`  activation round trip seen by the engine : ${f(r.rttUs, 8)} µs/turn   (poll item out → pump → event loop → commands back)`);
console.log(`    of which in JavaScript (driver, encode, complete): ${f(r.jsUs, 6)} µs/turn`);
console.log(`  with 16 starters                         : ${f(nodeRes[16].rttUs, 8)} µs/turn   (JS part ${f(nodeRes[16].jsUs, 5)} µs)`);
console.log(`  Node driver alone (no ABI, no engine)    : ${f(drvUs, 8, 2)} µs/turn   (JSON.parse + driver + JSON.stringify)`);
console.log(`  one trivial N-API call into Go           : ${f(abiUs, 8, 3)} µs`);
console.log(`  turns per orchestration                  : ${f(r.turnsPerOrch, 8, 2)}`);
console.log('\n3-activity-chain orchestrations/s (start + wait per instance, SQLite file store, default options)');
console.log(`  ${''.padEnd(12)} ${'Node'.padStart(10)} ${'Go'.padStart(10)} ${'Node/Go'.padStart(8)}   ${'Node p50'.padStart(9)} ${'Go p50'.padStart(8)}   ${'Node p99'.padStart(9)} ${'Go p99'.padStart(8)}`);
for (const s of [1, 16]) {
  const g = (go.res && go.res[s]) || {};
  const gos = g['orch/s'];
  const ratio = gos ? `${(nodeRes[s].orchPerS / gos).toFixed(2)}x`.padStart(8) : '     n/a';
  console.log(
    `  starters=${String(s).padEnd(3)} ${f(nodeRes[s].orchPerS, 10)} ${f(gos, 10)} ${ratio}   ${f(nodeRes[s].p50, 7, 2)}ms ${f(g['p50-ms'], 6, 2)}ms   ${f(nodeRes[s].p99, 7, 2)}ms ${f(g['p99-ms'], 6, 2)}ms`,
  );
}
console.log(`\ninstances per run: ${INSTANCES}; Go workload: ${go.cmd}`);
