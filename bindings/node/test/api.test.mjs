// The package's public API around the scenarios: lifecycle and errors at
// the edges, management calls, the loader, the event loop never waiting on
// Go, the process exiting after shutdown, signals, and no leaked threads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';

import * as duroxide from '../index.mjs';
import {
  AlreadyRegisteredError,
  Client,
  ClosedError,
  DuroxideError,
  DuroxideTimeoutError,
  InvalidArgumentError,
  OrchestrationFailedError,
  PostgresProvider,
  Runtime,
  SqliteProvider,
} from '../index.mjs';
import { Env, PKG, REPO, captureLogger, deferred, sleep, waitFor, withEnv, withTimeout } from './helpers.mjs';

const require = createRequire(import.meta.url);
const native = require('../lib/native.cjs');
const T = { timeout: 60000 };

function tmp() {
  return mkdtempSync(path.join(tmpdir(), 'duroxide-node-api-'));
}

/** Runs `node script args…`; resolves {code, signal, stdout, stderr, ms}. */
function runNode(script, args = [], { onLine, env } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const p = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: env || process.env });
    let stdout = '';
    let stderr = '';
    let buf = '';
    p.stdout.on('data', (d) => {
      stdout += d;
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (onLine) onLine(line, p);
      }
    });
    p.stderr.on('data', (d) => (stderr += d));
    const killer = setTimeout(() => p.kill('SIGKILL'), 45000);
    p.on('error', reject);
    p.on('exit', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

test('versions, the addon and both entry points', async () => {
  const v = duroxide.nativeVersion();
  assert.equal(v.abi, duroxide.ABI_VERSION);
  assert.equal(v.protocol, duroxide.PROTOCOL_VERSION);
  assert.match(v.go, /^go1\./);
  if (!process.env.DUROXIDE_NODE_ADDON) {
    assert.equal(duroxide.addonPath(), path.join(PKG, 'prebuilds', `${process.platform}-${process.arch}`, 'duroxide.node'));
  }
  // ESM and CommonJS share one implementation: the same classes.
  const cjs = require('../index.cjs');
  assert.equal(cjs.Runtime, Runtime);
  assert.equal(cjs.ActivityFailedError, duroxide.ActivityFailedError);
  assert.equal(duroxide.default, cjs);
  assert.equal(duroxide.encodePayload({ a: 1 }), '{"a":1}');
  assert.equal(duroxide.encodePayload('plain'), 'plain');
  assert.deepEqual(duroxide.decodePayload('{"a":1}'), { a: 1 });
  assert.equal(duroxide.decodePayload('World'), 'World');
  assert.equal(duroxide.decodePayload(''), null);
});

test('closed objects reject with clear errors', T, async () => {
  const dir = tmp();
  const p = await SqliteProvider.open(path.join(dir, 'c.db'));
  const rt = new Runtime(p, { logger: null });
  const c = new Client(p);
  await assert.rejects(p.close(), /still used/); // a store in use refuses to close
  await rt.shutdown();
  await rt.shutdown(); // idempotent
  assert.throws(() => rt.registerActivity('X', async () => 1), (e) => e instanceof ClosedError && /shut down/.test(e.message));
  await assert.rejects(rt.start(), ClosedError);
  assert.equal(rt.metricsSnapshot(), null);
  await c.close();
  await c.close();
  await assert.rejects(c.getStatus('x'), (e) => e instanceof ClosedError && /client is closed/.test(e.message));
  await p.close();
  await p.close();
  assert.throws(() => new Client(p), ClosedError);
  assert.throws(() => new Runtime(p), ClosedError);
  rmSync(dir, { recursive: true, force: true });
});

test('errors at the edges', T, () =>
  withEnv(async (env) => {
    await assert.rejects(env.client.startOrchestration('', 'X', ''), InvalidArgumentError);
    env.rt.registerActivity('A', async () => 1);
    assert.throws(() => env.rt.registerActivity('A', async () => 2), AlreadyRegisteredError);
    assert.throws(() => env.rt.registerOrchestration('Async', async () => 1), TypeError);
    assert.throws(() => env.rt.registerOrchestrationVersioned('V', 'not-a-version', function* () {}), (e) => e instanceof DuroxideError && /semver|version/.test(e.message));
    assert.throws(() => new Runtime(env.provider, { noSuchOption: 1 }), (e) => e instanceof InvalidArgumentError && /noSuchOption/.test(e.message));
    await assert.rejects(SqliteProvider.open('file:weird?x=1'), DuroxideError);
    await assert.rejects(PostgresProvider.connect('postgres://u:secret@127.0.0.1:1/db?connect_timeout=2'), (e) => {
      assert.ok(e instanceof DuroxideError);
      assert.match(e.message, /postgres/i);
      assert.ok(!e.message.includes('secret'), e.message);
      return true;
    });
    await assert.rejects(env.client.waitForOrchestration('nobody', 100), DuroxideTimeoutError);
    assert.equal((await env.client.getStatus('nobody')).status, 'NotFound');
    assert.equal(await env.client.waitForStatusChange('nobody', 0, 0, 100), null);
  }));

test('management calls', T, () =>
  withEnv(async (env) => {
    env.rt.registerActivity('Echo', async (ctx, x) => x);
    env.rt.registerOrchestration('Parent', function* (ctx, n) {
      ctx.setValue('parent', 'yes');
      if (n < 1) {
        yield ctx.scheduleSubOrchestrationWithId('Child', `child-of-${ctx.instanceId}`, n);
        yield ctx.continueAsNew(n + 1);
      }
      return n;
    });
    env.rt.registerOrchestration('Child', function* (ctx, n) {
      return yield ctx.scheduleActivity('Echo', n);
    });
    await env.rt.start();
    await env.completed('mgmt', 'Parent', 0, 1);
    const c = env.client;
    assert.deepEqual(new Set(await c.listAllInstances()), new Set(['mgmt', 'child-of-mgmt']));
    assert.ok((await c.listInstancesByStatus('Completed')).includes('mgmt'));
    const info = await c.getInstanceInfo('mgmt');
    assert.equal(info.orchestrationName, 'Parent');
    assert.equal(info.currentExecutionId, 2);
    assert.ok(info.createdAt > 0);
    assert.deepEqual(await c.listExecutions('mgmt'), [1, 2]);
    const ex = await c.getExecutionInfo('mgmt', 1);
    assert.equal(ex.status, 'ContinuedAsNew');
    assert.ok(ex.eventCount > 0);
    assert.equal((await c.readExecutionHistory('mgmt', 1))[0].type, 'OrchestrationStarted');
    const tree = await c.getInstanceTree('mgmt');
    assert.equal(tree.rootId, 'mgmt');
    assert.ok(tree.allIds.includes('child-of-mgmt'));
    assert.deepEqual(await c.getKvAllValues('mgmt'), { parent: 'yes' });
    assert.equal(await c.getValueTyped('mgmt', 'parent'), 'yes');
    assert.equal(await c.waitForValue('mgmt', 'parent', 1000), 'yes');
    const m = await c.getSystemMetrics();
    assert.equal(m.totalInstances, 2);
    assert.equal(m.completedInstances, 2);
    const q = await c.getQueueDepths();
    assert.ok(q.orchestratorQueue >= 0 && q.workerQueue >= 0 && q.timerQueue >= 0);
    const pr = await c.pruneExecutions('mgmt', { keepLast: 1 });
    assert.equal(pr.executionsDeleted, 1);
    assert.deepEqual(await c.listExecutions('mgmt'), [2]);
    assert.equal((await c.pruneExecutionsBulk({ name: 'Parent' }, { keepLast: 1 })).instancesProcessed, 1);
    await assert.rejects(c.deleteInstance('child-of-mgmt'), DuroxideError); // a child: delete its root
    assert.equal((await c.deleteInstance('mgmt')).instancesDeleted, 2);
    assert.equal((await c.getStatus('mgmt')).status, 'NotFound');
    assert.equal((await c.deleteInstanceBulk()).instancesDeleted, 0);
    assert.deepEqual(await c.listDeadLetters(), []);
  }));

test('waitForOrchestrationTyped resolves to the output or rejects with OrchestrationFailedError', T, () =>
  withEnv(async (env) => {
    env.rt.registerOrchestration('Ok', (ctx, x) => ({ doubled: x * 2 }));
    env.rt.registerOrchestration('Bad', () => {
      throw new RangeError('too big');
    });
    await env.rt.start();
    await env.client.startOrchestration('ok', 'Ok', 21);
    assert.deepEqual(await env.client.waitForOrchestrationTyped('ok'), { doubled: 42 });
    await env.client.startOrchestration('bad', 'Bad', 0);
    await assert.rejects(env.client.waitForOrchestrationTyped('bad'), (e) => {
      assert.ok(e instanceof OrchestrationFailedError);
      assert.equal(e.message, 'too big');
      assert.equal(e.errorType, 'RangeError');
      return true;
    });
  }));

test('warm and cold drivers write identical histories', T, async () => {
  const register = (rt) => {
    rt.registerActivity('Step', async (ctx, s) => s + 'x');
    rt.registerOrchestration('Mixed', function* (ctx, s) {
      const g = yield ctx.newGuid();
      for (let i = 0; i < 3; i++) s = yield ctx.scheduleActivity('Step', s);
      const r = yield ctx.race(ctx.waitForEvent('never'), ctx.scheduleActivity('Step', 'r'));
      const both = yield ctx.all([ctx.scheduleActivity('Step', 'a'), ctx.scheduleTimer(1)]);
      return [s, r.index, both[0], g.length];
    });
  };
  const shapes = [];
  for (const cache of [1000, -1]) {
    const e = await Env.create({ instanceCacheSize: cache });
    try {
      register(e.rt);
      await e.rt.start();
      await e.completed('m', 'Mixed', 's', ['sxxx', 1, 'ax', 36]);
      shapes.push((await e.client.readHistory('m')).map((ev) => [ev.type, ev.name, ev.input, ev.sourceEventId]));
      const m = e.rt.metricsSnapshot();
      assert.equal(m.warmTurns > 0, cache > 0);
      assert.equal(m.replayedJobs > 0, cache < 0);
      assert.ok(m.hostActivations > 0 && m.jsActivations > 0);
    } finally {
      await e.close();
    }
  }
  assert.deepEqual(shapes[0], shapes[1]);
});

test('the event loop keeps running while Go waits', T, () =>
  withEnv(async (env) => {
    env.rt.registerOrchestration('Waits', function* (ctx) {
      return yield ctx.waitForEvent('Go');
    });
    await env.rt.start();
    await env.client.startOrchestration('w', 'Waits', '');
    let ticks = 0;
    const iv = setInterval(() => ticks++, 10);
    const waiting = env.client.waitForOrchestration('w', 30000);
    const timedOut = env.client.waitForOrchestration('w', 600).catch((e) => e);
    await sleep(400);
    await env.client.raiseEvent('w', 'Go', 'went');
    assert.equal((await waiting).output, 'went');
    assert.ok((await timedOut) instanceof DuroxideTimeoutError || (await timedOut).status === 'Completed');
    clearInterval(iv);
    assert.ok(ticks >= 10, `only ${ticks} timer ticks while a Go wait was pending`);
  }));

test('closing a client rejects its pending calls with ClosedError', T, () =>
  withEnv(async (env) => {
    env.rt.registerOrchestration('Forever', function* (ctx) {
      yield ctx.waitForEvent('never');
    });
    await env.rt.start();
    await env.client.startOrchestration('f', 'Forever', '');
    const other = new Client(env.provider);
    const pending = assert.rejects(other.waitForOrchestration('f', 60000), (e) => e instanceof ClosedError && /closed before the call finished/.test(e.message));
    await sleep(50);
    await other.close();
    await pending;
  }));

test('shutdown drains in-flight activities; the work survives a restart', T, () =>
  withEnv(async (env) => {
    const done = [];
    const started = deferred();
    env.rt.registerActivity('Short', async () => {
      started.resolve();
      await sleep(300);
      done.push(1);
      return 'ok';
    });
    const one = function* (ctx) {
      return yield ctx.scheduleActivity('Short', '');
    };
    env.rt.registerOrchestration('One', one);
    await env.rt.start();
    await env.client.startOrchestration('one', 'One', '');
    await started.promise;
    await env.rt.shutdown(10000);
    assert.deepEqual(done, [1]);
    const rt2 = await env.newRuntime();
    rt2.registerOrchestration('One', one);
    await rt2.start();
    assert.equal((await env.client.waitForOrchestration('one', 30000)).output, 'ok');
  }));

test('shutdown is bounded when an activity never settles, and the activity sees the cancellation', T, () =>
  withEnv(async (env) => {
    const started = deferred();
    let cancelled = false;
    env.rt.registerActivity('Never', (ctx) => {
      ctx.signal.addEventListener('abort', () => (cancelled = true));
      started.resolve();
      return new Promise(() => {}); // ignores cancellation, never settles
    });
    env.rt.registerOrchestration('Stuck', function* (ctx) {
      return yield ctx.scheduleActivity('Never', '');
    });
    await env.rt.start();
    await env.client.startOrchestration('stuck', 'Stuck', '');
    await started.promise;
    const t0 = Date.now();
    await withTimeout(env.rt.shutdown(200), 20000, 'shutdown');
    assert.ok(Date.now() - t0 < 20000);
    assert.equal(cancelled, true);
    assert.equal((await env.client.getStatus('stuck')).status, 'Running'); // it runs again on the next runtime
  }));

test('activities can use a client; tags and sessions reach the activity', T, () =>
  withEnv({ workerTagFilter: 'any' }, async (env) => {
    const seen = [];
    env.rt.registerActivity('Kick', async (ctx, id) => {
      await ctx.getClient().startOrchestration(id, 'Leaf', 'kicked');
      return 'ok';
    });
    env.rt.registerActivity('Where', async (ctx) => {
      seen.push([ctx.tag, ctx.sessionId]);
      return 'here';
    });
    env.rt.registerOrchestration('Leaf', (ctx, s) => s);
    env.rt.registerOrchestration('Kicker', function* (ctx) {
      yield ctx.scheduleActivity('Kick', 'leaf-1');
      yield ctx.scheduleActivity('Where', '', { tag: 'gpu' });
      yield ctx.scheduleActivityOnSession('Where', '', 's1');
      return 'kicked';
    });
    await env.rt.start();
    await env.completed('kicker', 'Kicker', '', 'kicked');
    assert.equal((await env.client.waitForOrchestration('leaf-1', 30000)).output, 'kicked');
    assert.deepEqual(seen, [['gpu', null], [null, 's1']]);
  }));

test('traces reach the logger once, never on replay', T, async () => {
  const logger = captureLogger();
  await withEnv({ logger, instanceCacheSize: -1 }, async (env) => {
    env.rt.registerActivity('A', async (ctx) => {
      ctx.traceInfo('in activity');
      return 1;
    });
    env.rt.registerOrchestration('Traced', function* (ctx) {
      ctx.traceInfo('before');
      yield ctx.scheduleActivity('A', '');
      ctx.traceWarn('after');
      return 'ok';
    });
    await env.rt.start();
    await env.completed('traced', 'Traced', '', 'ok');
  });
  const msgs = logger.lines.map((l) => `${l[0]}:${l[1]}`);
  assert.deepEqual(msgs, ['info:before', 'info:in activity', 'warn:after']);
  assert.equal(logger.lines[0][2].orchestration, 'Traced');
  assert.equal(logger.lines[1][2].activity, 'A');
});

test('many concurrent instances through one runtime and one client', T, () =>
  withEnv({ orchestrationConcurrency: 8 }, async (env) => {
    env.rt.registerActivity('Step', async (ctx, s) => s + 'x');
    env.rt.registerOrchestration('Chain3', function* (ctx, s) {
      for (let i = 0; i < 3; i++) s = yield ctx.scheduleActivity('Step', s);
      return s;
    });
    await env.rt.start();
    const ids = Array.from({ length: 60 }, (_, i) => `c${i}`);
    await Promise.all(ids.map((id) => env.client.startOrchestration(id, 'Chain3', id)));
    const sts = await Promise.all(ids.map((id) => env.client.waitForOrchestration(id, 60000)));
    assert.deepEqual(sts.map((s) => s.output), ids.map((id) => id + 'xxx'));
  }));

test('no pump or blocking call outlives its runtime and client', T, async () => {
  await withEnv(async (env) => {
    env.rt.registerOrchestration('Noop', () => 'ok');
    await env.rt.start();
    await env.completed('noop', 'Noop', '', 'ok');
    assert.equal(native.load().stats().pumpsRunning >= 2, true);
  });
  await waitFor('pumps to finish', () => native.load().stats().pumps === 0, 5000);
  assert.deepEqual(native.load().stats(), { pumps: 0, pumpsRunning: 0, calls: 0 });
});

// ---------------------------------------------------------------- processes

const CHILD_PRELUDE = `
import { Client, Runtime, SqliteProvider } from ${JSON.stringify(path.join(PKG, 'index.mjs'))};
const [dbPath] = process.argv.slice(2);
`;

function script(body) {
  const dir = tmp();
  const file = path.join(dir, 'child.mjs');
  writeFileSync(file, CHILD_PRELUDE + body);
  return { dir, file, db: path.join(dir, 'child.db') };
}

test('after shutdown nothing keeps the process alive (clients and providers left open)', T, async () => {
  const s = script(`
const p = await SqliteProvider.open(dbPath);
const rt = new Runtime(p, { logger: null });
rt.registerActivity('A', async (ctx, x) => x + '!');
rt.registerOrchestration('O', function* (ctx, x) { return yield ctx.scheduleActivity('A', x); });
await rt.start();
const c = new Client(p);
const idle = new Client(p);
await c.startOrchestration('i', 'O', 'hi');
console.log((await c.waitForOrchestration('i', 10000)).output);
await rt.shutdown();
console.log('shut down');
`);
  const r = await runNode(s.file, [s.db]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'hi!\nshut down\n');
  assert.ok(r.ms < 15000);
  rmSync(s.dir, { recursive: true, force: true });
});

test('a running runtime keeps the process alive until it is shut down', T, async () => {
  const s = script(`
const p = await SqliteProvider.open(dbPath);
const rt = new Runtime(p, { logger: null });
await rt.start();
const t0 = Date.now();
setTimeout(async () => { await rt.shutdown(); console.log('alive for', Date.now() - t0 >= 300); }, 300);
`);
  const r = await runNode(s.file, [s.db]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'alive for true\n');
  rmSync(s.dir, { recursive: true, force: true });
});

test('Ctrl-C: a SIGINT handler shuts the runtime down cleanly while Go waits', T, async () => {
  const s = script(`
const p = await SqliteProvider.open(dbPath);
const rt = new Runtime(p, { logger: null });
rt.registerActivity('Slow', async (ctx) => { await ctx.waitCancelled(1000); return 'x'; });
rt.registerOrchestration('Waits', function* (ctx) { return yield ctx.scheduleActivity('Slow', ''); });
await rt.start();
const c = new Client(p);
process.once('SIGINT', async () => {
  console.log('interrupted');
  await rt.shutdown(5000);
  await c.close();
  await p.close();
  console.log('clean shutdown');
});
await c.startOrchestration('w', 'Waits', '');
console.log('ready');
c.waitForOrchestration('w', 600000).catch((e) => console.log('wait ended:', e.name));
`);
  let sent = false;
  const r = await runNode(s.file, [s.db], {
    onLine: (line, proc) => {
      if (line === 'ready' && !sent) {
        sent = true;
        setTimeout(() => proc.kill('SIGINT'), 300);
      }
    },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /interrupted\n/);
  assert.match(r.stdout, /wait ended: ClosedError\n/);
  assert.match(r.stdout, /clean shutdown\n$/);
  rmSync(s.dir, { recursive: true, force: true });
});

test('a worker thread that ends with a running runtime leaves nothing behind', T, async () => {
  const s = script(`
import { Worker } from 'node:worker_threads';
function workerMain(pkg, db) {
  const d = require(pkg);
  (async () => {
    const p = await d.SqliteProvider.open(db);
    const rt = new d.Runtime(p, { logger: null });
    rt.registerActivity('A', async (ctx, x) => x + 'x');
    rt.registerOrchestration('O', function* (ctx, x) { return yield ctx.scheduleActivity('A', x); });
    await rt.start();
    const c = new d.Client(p);
    await c.startOrchestration('i', 'O', 'a');
    require('node:worker_threads').parentPort.postMessage((await c.waitForOrchestration('i', 10000)).output);
  })();
}
for (let i = 0; i < 3; i++) {
  const code = '(' + workerMain + ')(' + JSON.stringify(${JSON.stringify(path.join(PKG, 'index.cjs'))}) + ',' + JSON.stringify(dbPath + i) + ')';
  const w = new Worker(code, { eval: true });
  const msg = await new Promise((r) => w.once('message', r));
  await w.terminate(); // the runtime and client are still open: the addon's cleanup hook stops them
  console.log(msg);
}
`);
  const r = await runNode(s.file, [s.db]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'ax\nax\nax\n');
  rmSync(s.dir, { recursive: true, force: true });
});

test('the loader lists every path it tried', T, async () => {
  const dir = tmp();
  // A copy of the package without its prebuilt addon.
  cpSync(path.join(PKG, 'lib'), path.join(dir, 'lib'), { recursive: true });
  copyFileSync(path.join(PKG, 'package.json'), path.join(dir, 'package.json'));
  copyFileSync(path.join(PKG, 'index.cjs'), path.join(dir, 'index.cjs'));
  mkdirSync(path.join(dir, 'node_modules'));
  const file = path.join(dir, 'probe.cjs');
  writeFileSync(
    file,
    `const d = require('./index.cjs');
try { d.nativeVersion(); console.log('loaded?!'); } catch (e) { console.log(e.name); console.log(e.message); }`,
  );
  const r = await runNode(file, [], { env: { ...process.env, DUROXIDE_NODE_ADDON: '/nonexistent/duroxide.node' } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^LibraryNotFoundError\n/);
  assert.match(r.stdout, /\/nonexistent\/duroxide\.node: no such file/);
  assert.match(r.stdout, /prebuilds\/linux-x64\/duroxide\.node: no such file/);
  assert.match(r.stdout, /@duroxide\/linux-x64\/duroxide\.node: not installed/);
  assert.match(r.stdout, /DUROXIDE_NODE_ADDON/);
  rmSync(dir, { recursive: true, force: true });
});

test('the examples run', T, async () => {
  for (const [file, want] of [
    ['hello.mjs', /^Completed Hello, World!$/m],
    ['order_pipeline.mjs', /Completed: \{\s+status: 'approved'/],
  ]) {
    const r = await runNode(path.join(REPO, 'examples', 'node', file));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, want);
  }
});

test('withTimeout helper sanity', async () => {
  await assert.rejects(withTimeout(new Promise(() => {}), 10, 'never'), /timed out: never/);
});
