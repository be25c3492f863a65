// The scenarios every driver must pass (shared/SCENARIOS.md), for the Node
// driver over the N-API addon, on the SQLite file store. Numbered as there.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { ActivityFailedError, CancelledError, DuroxideError } from '../index.mjs';
import { deferred, sleep, waitFor, withEnv, withTimeout } from './helpers.mjs';

const T = { timeout: 60000 };
const hello = async (ctx, name) => `Hello, ${name}!`;

test('01 hello', T, () =>
  withEnv(async (env) => {
    env.rt.registerActivity('Hello', hello);
    env.rt.registerOrchestration('HelloWorld', function* (ctx, name) {
      const first = yield ctx.scheduleActivity('Hello', 'Go');
      assert.equal(first, 'Hello, Go!');
      return yield ctx.scheduleActivity('Hello', name);
    });
    await env.rt.start();
    await env.completed('hello', 'HelloWorld', 'World', 'Hello, World!');
  }));

test('02 control flow', T, () =>
  withEnv(async (env) => {
    env.rt.registerActivity('GetFlag', async () => 'yes');
    env.rt.registerActivity('SayYes', async () => 'picked_yes');
    env.rt.registerActivity('SayNo', async () => 'picked_no');
    env.rt.registerOrchestration('Control', function* (ctx) {
      const flag = yield ctx.scheduleActivity('GetFlag', '');
      return yield ctx.scheduleActivity(flag === 'yes' ? 'SayYes' : 'SayNo', '');
    });
    await env.rt.start();
    await env.completed('control', 'Control', '', 'picked_yes');
  }));

test('03 loop', T, () =>
  withEnv(async (env) => {
    env.rt.registerActivity('Append', (ctx, s) => s + 'x'); // a plain function works too
    env.rt.registerOrchestration('Loop', function* (ctx) {
      let s = 'start';
      for (let i = 0; i < 3; i++) s = yield ctx.scheduleActivity('Append', s);
      return s;
    });
    await env.rt.start();
    await env.completed('loop', 'Loop', '', 'startxxx');
  }));

test('04 activity error handled', T, () =>
  withEnv(async (env) => {
    env.rt.registerActivity('Fragile', async () => {
      throw new TypeError('boom');
    });
    env.rt.registerActivity('Recover', async () => 'recovered');
    env.rt.registerOrchestration('Handled', function* (ctx) {
      try {
        yield ctx.scheduleActivity('Fragile', 'bad');
      } catch (e) {
        if (!(e instanceof ActivityFailedError) || !(e instanceof Error)) throw new Error(`not an ActivityFailedError: ${e}`);
        if (e.message !== 'boom' || e.errorType !== 'TypeError' || e.activityName !== 'Fragile') {
          throw new Error(`unexpected error ${e.name}: ${e.message} (${e.errorType})`);
        }
      }
      return yield ctx.scheduleActivity('Recover', '');
    });
    await env.rt.start();
    await env.completed('handled', 'Handled', '', 'recovered');
  }));

test('05 activity error propagated', T, () =>
  withEnv(async (env) => {
    env.rt.registerActivity('Validate', async (ctx, s) => {
      if (!s) throw new Error('Input cannot be empty');
      return `Valid: ${s}`;
    });
    env.rt.registerOrchestration('Validating', function* (ctx, s) {
      return yield ctx.scheduleActivity('Validate', s);
    });
    await env.rt.start();
    const st = await env.run('invalid', 'Validating', '');
    assert.equal(st.status, 'Failed');
    assert.match(st.error, /Input cannot be empty/);
    assert.equal(st.errorDetails.errorType, 'Error');
    await env.completed('valid', 'Validating', 'test', 'Valid: test');
  }));

test('06 fan-out/fan-in', T, () =>
  withEnv(async (env) => {
    env.rt.registerActivity('Greet', hello);
    env.rt.registerOrchestration('Gabbar', function* (ctx) {
      const out = yield ctx.all([ctx.scheduleActivity('Greet', 'Gabbar'), ctx.scheduleActivity('Greet', 'Samba')]);
      return out.join(',');
    });
    await env.rt.start();
    await env.completed('gabbar', 'Gabbar', '', 'Hello, Gabbar!,Hello, Samba!');
  }));

test('07 fan-out 100', T, () =>
  withEnv(async (env) => {
    env.rt.registerActivity('Square', async (ctx, n) => n * n);
    env.rt.registerOrchestration('Squares', function* (ctx) {
      const tasks = [];
      for (let i = 1; i <= 100; i++) tasks.push(ctx.scheduleActivity('Square', i));
      const values = yield ctx.all(tasks);
      return String(values.reduce((a, b) => a + b, 0));
    });
    await env.rt.start();
    await env.completed('squares', 'Squares', '', 338350); // "338350" decodes as a number
    assert.equal((await env.client.getStatus('squares')).rawOutput, '338350');
  }));

test('08 timer', T, () =>
  withEnv(async (env) => {
    env.rt.registerOrchestration('Timer', function* (ctx) {
      yield ctx.scheduleTimer(50);
      return 'done';
    });
    await env.rt.start();
    const t0 = Date.now();
    await env.completed('timer', 'Timer', '', 'done');
    assert.ok(Date.now() - t0 >= 50);
    const h = await env.client.readHistory('timer');
    assert.ok(h[h.length - 1].timestampMs - h[0].timestampMs >= 50);
  }));

test('09 timeout race', T, () =>
  withEnv({ workerLockTimeoutMs: 400 }, async (env) => {
    const cancelled = deferred();
    env.rt.registerActivity('LongOp', async (ctx) => {
      if (await ctx.waitCancelled(2000)) {
        cancelled.resolve(ctx.signal.aborted);
        return 'cancelled';
      }
      return 'finished';
    });
    env.rt.registerOrchestration('Timeout', function* (ctx) {
      const r = yield ctx.race(ctx.scheduleActivity('LongOp', ''), ctx.scheduleTimer(100));
      if (r.index === 1) throw new Error('timeout');
      return 'op finished';
    });
    await env.rt.start();
    const st = await env.run('timeout', 'Timeout', '');
    assert.equal(st.status, 'Failed');
    assert.equal(st.error, 'timeout');
    const aborted = await withTimeout(cancelled.promise, 5000, "the losing activity's context to be cancelled");
    assert.equal(aborted, true, 'ctx.signal was not aborted');
  }));

test('10 event race', T, () =>
  withEnv(async (env) => {
    env.rt.registerActivity('Sleep', async (ctx) => {
      await ctx.waitCancelled(300);
      return 'slept';
    });
    env.rt.registerOrchestration('EventRace', function* (ctx) {
      const ev = ctx.waitForEvent('Go');
      const r = yield ctx.race(ctx.scheduleActivity('Sleep', ''), ev);
      return (r.index === 1 ? 'event:' : 'sleep:') + r.value;
    });
    await env.rt.start();
    await env.client.startOrchestration('race', 'EventRace', '');
    await waitFor('the wait to exist', () => env.historyHas('race', 'ExternalSubscribed'));
    await env.client.raiseEvent('race', 'Go', 'ok');
    assert.equal((await env.client.waitForOrchestration('race', 30000)).output, 'event:ok');
  }));

test('11 event raised before the wait', T, () =>
  withEnv(async (env) => {
    env.rt.registerActivity('Prepare', async () => {
      await sleep(200);
      return 'ready';
    });
    env.rt.registerOrchestration('Approve', function* (ctx) {
      yield ctx.scheduleActivity('Prepare', '');
      const v = yield ctx.waitForEvent('Approval');
      return 'approved:' + v;
    });
    await env.rt.start();
    await env.client.startOrchestration('approve', 'Approve', '');
    await env.client.raiseEvent('approve', 'Approval', 'yes');
    assert.equal((await env.client.waitForOrchestration('approve', 30000)).output, 'approved:yes');
  }));

test('12 event queue', T, () =>
  withEnv(async (env) => {
    env.rt.registerOrchestration('Inbox', function* (ctx) {
      const got = [];
      for (let i = 0; i < 3; i++) got.push(yield ctx.dequeueEvent('inbox'));
      return got.join(',');
    });
    await env.rt.start();
    await env.client.startOrchestration('inbox', 'Inbox', '');
    for (const m of ['a', 'b', 'c']) await env.client.enqueueEvent('inbox', 'inbox', m);
    assert.equal((await env.client.waitForOrchestration('inbox', 30000)).output, 'a,b,c');
  }));

test('13 nested race', T, () =>
  withEnv(async (env) => {
    env.rt.registerActivity('Slow', async (ctx) => {
      await ctx.waitCancelled(1000);
      return 'slow';
    });
    env.rt.registerOrchestration('Nested', function* (ctx) {
      const inner = ctx.race(ctx.scheduleTimer(10000), ctx.waitForEvent('A'));
      const outer = yield ctx.race(inner, ctx.scheduleActivity('Slow', ''));
      if (outer.index === 0 && outer.value.index === 1) return 'inner:event:' + outer.value.value;
      return `outer=${outer.index} inner=${inner.winner}`;
    });
    await env.rt.start();
    await env.client.startOrchestration('nested', 'Nested', '');
    await env.client.raiseEvent('nested', 'A', 'x');
    assert.equal((await env.client.waitForOrchestration('nested', 30000)).output, 'inner:event:x');
  }));

test('14 sub-orchestration', T, () =>
  withEnv(async (env) => {
    env.rt.registerActivity('Upper', async (ctx, s) => s.toUpperCase());
    env.rt.registerOrchestration('ChildUpper', function* (ctx, s) {
      return yield ctx.scheduleActivity('Upper', s);
    });
    env.rt.registerOrchestration('Parent', function* (ctx, s) {
      const r = yield ctx.scheduleSubOrchestration('ChildUpper', s);
      return 'parent:' + r;
    });
    await env.rt.start();
    await env.completed('parent', 'Parent', 'hi', 'parent:HI');
  }));

test('15 sub-orchestration chain', T, () =>
  withEnv(async (env) => {
    env.rt.registerActivity('AppendX', async (ctx, s) => s + 'x');
    env.rt.registerOrchestration('Leaf', function* (ctx, s) {
      return yield ctx.scheduleActivity('AppendX', s);
    });
    env.rt.registerOrchestration('Mid', function* (ctx, s) {
      return (yield ctx.scheduleSubOrchestration('Leaf', s)) + '-mid';
    });
    env.rt.registerOrchestration('Root', function* (ctx, s) {
      return 'root:' + (yield ctx.scheduleSubOrchestration('Mid', s));
    });
    await env.rt.start();
    await env.completed('root', 'Root', 'a', 'root:ax-mid');
  }));

test('16 detached orchestration', T, () =>
  withEnv(async (env) => {
    env.rt.registerOrchestration('Chained', function* (ctx, s) {
      yield ctx.scheduleTimer(5);
      return s;
    });
    env.rt.registerOrchestration('Coordinator', function* (ctx) {
      yield ctx.startOrchestration('Chained', 'W1', 'A');
      ctx.startOrchestration('Chained', 'W2', 'B'); // no yield needed
      return 'scheduled';
    });
    await env.rt.start();
    await env.completed('coord', 'Coordinator', '', 'scheduled');
    for (const [id, want] of [['W1', 'A'], ['W2', 'B']]) {
      const st = await env.client.waitForOrchestration(id, 30000);
      assert.deepEqual([st.instanceId, st.status, st.output], [id, 'Completed', want]);
    }
  }));

test('17 continue-as-new', T, () =>
  withEnv(async (env) => {
    env.rt.registerOrchestration('Counter', function* (ctx, n) {
      n = Number(n);
      if (n < 3) yield ctx.continueAsNew(String(n + 1));
      return `final:${n}`;
    });
    await env.rt.start();
    await env.completed('counter', 'Counter', '0', 'final:3');
    assert.deepEqual(await env.client.listExecutions('counter'), [1, 2, 3, 4]);
  }));

test('18 deterministic system calls', T, () =>
  withEnv({ instanceCacheSize: -1 }, async (env) => {
    // instanceCacheSize -1: every turn replays the whole history.
    env.rt.registerOrchestration('Sys', function* (ctx) {
      const now = yield ctx.utcNow();
      const g = yield ctx.newGuid();
      const first = `n=${now},g=${g}`;
      ctx.setCustomStatus(first);
      yield ctx.waitForEvent('Go');
      return first; // computed again by the replay after the event
    });
    await env.rt.start();
    await env.client.startOrchestration('sys', 'Sys', '');
    await waitFor('the wait', () => env.historyHas('sys', 'ExternalSubscribed'));
    const recorded = (await env.client.getStatus('sys')).customStatus;
    const m = /^n=(\d+),g=([0-9a-f-]{36})$/.exec(recorded || '');
    assert.ok(m && Number(m[1]) > 0, recorded);
    await env.client.raiseEvent('sys', 'Go', '');
    const st = await env.client.waitForOrchestration('sys', 30000);
    assert.equal(st.status, 'Completed');
    assert.equal(st.output, recorded);
    assert.ok(env.rt.metricsSnapshot().replayedJobs > 0);
  }));

test('19 custom status', T, () =>
  withEnv(async (env) => {
    env.rt.registerActivity('Work', async () => 'w');
    env.rt.registerOrchestration('Status', function* (ctx) {
      ctx.setCustomStatus('step1');
      yield ctx.scheduleActivity('Work', '');
      ctx.setCustomStatus('step2');
      yield ctx.waitForEvent('Go');
      return 'done';
    });
    await env.rt.start();
    await env.client.startOrchestration('status', 'Status', '');
    let seen = 0;
    for (;;) {
      const st = await env.client.waitForStatusChange('status', seen, 0, 20000);
      assert.ok(st !== null, 'no status change');
      seen = st.customStatusVersion;
      if (st.customStatus === 'step2') break;
    }
    await env.client.raiseEvent('status', 'Go', '');
    const st = await env.client.waitForOrchestration('status', 30000);
    assert.equal(st.status, 'Completed');
    assert.equal(st.customStatus, 'step2');
  }));

test('20 KV counter', T, () =>
  withEnv(async (env) => {
    env.rt.registerActivity('Process', async (ctx, i) => `processed:${i}`);
    env.rt.registerOrchestration('KVCounter', function* (ctx) {
      for (let i = 0; i < 3; i++) {
        const n = Number(ctx.getValue('count') || 0);
        yield ctx.scheduleActivity('Process', i);
        ctx.setValue('count', String(n + 1));
      }
      return ctx.getValue('count');
    });
    await env.rt.start();
    await env.completed('kv', 'KVCounter', '', 3);
    assert.equal(await env.client.getValue('kv', 'count'), '3');
  }));

test('21 versions', T, () =>
  withEnv(async (env) => {
    env.rt.registerOrchestrationVersioned('Versioned', '1.0.0', () => 'v1'); // plain functions are orchestrations too
    env.rt.registerOrchestrationVersioned('Versioned', '2.0.0', () => 'v2');
    await env.rt.start();
    await env.completed('latest', 'Versioned', '', 'v2');
    await env.client.startOrchestrationVersioned('pinned', 'Versioned', '', '1.0.0');
    const st = await env.client.waitForOrchestration('pinned', 30000);
    assert.deepEqual([st.output, st.orchestrationVersion], ['v1', '1.0.0']);
  }));

test('22 cancel cascades', T, () =>
  withEnv(async (env) => {
    env.rt.registerOrchestration('Child', function* (ctx) {
      yield ctx.waitForEvent('never');
    });
    env.rt.registerOrchestration('Parent', function* (ctx) {
      return yield ctx.scheduleSubOrchestrationWithId('Child', 'cancel-child', '');
    });
    await env.rt.start();
    await env.client.startOrchestration('cancel-parent', 'Parent', '');
    await waitFor('the child to wait', () => env.historyHas('cancel-child', 'ExternalSubscribed'));
    await env.client.cancelInstance('cancel-parent', 'user_request');
    const st = await env.client.waitForOrchestration('cancel-parent', 30000);
    assert.equal(st.status, 'Failed');
    assert.equal(st.errorDetails.kind, 'Cancelled');
    assert.match(st.error, /user_request/);
    const cst = await env.client.waitForOrchestration('cancel-child', 30000);
    assert.equal(cst.status, 'Failed');
    assert.equal(cst.errorDetails.kind, 'Cancelled');
  }));

test('23 retry policy', T, () =>
  withEnv(async (env) => {
    let calls = 0;
    env.rt.registerActivity('Flaky', async () => {
      calls++;
      if (calls <= 2) throw new Error('transient');
      return 'ok';
    });
    env.rt.registerOrchestration('Retry', function* (ctx) {
      return yield ctx.scheduleActivityWithRetry('Flaky', '', { maxAttempts: 3, backoff: 'fixed', backoffMs: 10 });
    });
    await env.rt.start();
    await env.completed('retry', 'Retry', '', 'ok');
    const h = await env.client.readHistory('retry');
    assert.equal(h.filter((e) => e.type === 'ActivityScheduled').length, 3);
  }));

test('24 nondeterminism detected', T, () =>
  withEnv(async (env) => {
    env.rt.registerActivity('A', async () => 'a');
    env.rt.registerActivity('B', async () => 'b');
    env.rt.registerOrchestration('Changing', function* (ctx) {
      yield ctx.scheduleActivity('A', '');
      yield ctx.waitForEvent('Go');
      return 'done';
    });
    await env.rt.start();
    await env.client.startOrchestration('nd', 'Changing', '');
    await waitFor('the wait', () => env.historyHas('nd', 'ExternalSubscribed'));
    await env.newRuntime(); // new code under the same name and version: B first
    env.rt.registerActivity('B', async () => 'b');
    env.rt.registerOrchestration('Changing', function* (ctx) {
      yield ctx.scheduleActivity('B', '');
      yield ctx.waitForEvent('Go');
      return 'done';
    });
    await env.rt.start();
    await env.client.raiseEvent('nd', 'Go', '');
    const st = await env.client.waitForOrchestration('nd', 30000);
    assert.equal(st.status, 'Failed');
    assert.equal(st.errorDetails.kind, 'Nondeterminism');
    assert.ok(st.error.includes('"A"') && st.error.includes('"B"'), st.error);
  }));

test('25 unknown orchestration', T, () =>
  withEnv(async (env) => {
    env.rt.registerActivity('Hello', hello);
    env.rt.registerOrchestration('Known', function* (ctx, s) {
      return yield ctx.scheduleActivity('Hello', s);
    });
    await env.rt.start();
    await env.client.startOrchestration('ghost', 'NoSuchOrchestration', '');
    await env.completed('known', 'Known', 'there', 'Hello, there!'); // still serving
    const st = await env.client.waitForOrchestration('ghost', 30000);
    assert.equal(st.status, 'Failed');
    assert.match(st.error, /NoSuchOrchestration/);
    assert.ok(env.rt.metricsSnapshot().abandoned >= env.opts.maxAttempts - 1); // retried with backoff first
  }));

test('26 unknown activity', T, () =>
  withEnv(async (env) => {
    env.rt.registerOrchestration('CallsMissing', function* (ctx) {
      try {
        yield ctx.scheduleActivity('Missing', '');
      } catch (e) {
        if (e instanceof ActivityFailedError) return 'caught: ' + e.message;
        throw e;
      }
      throw new DuroxideError('the missing activity succeeded');
    });
    await env.rt.start();
    const st = await env.run('missing', 'CallsMissing', '');
    assert.equal(st.status, 'Completed', st.error);
    assert.match(st.output, /activity "Missing" is not registered/);
  }));

test('27 bad payloads', T, () =>
  withEnv(async (env) => {
    env.rt.registerActivity('Hello', hello);
    env.rt.registerActivity('ThrowsValue', async () => {
      throw 42; // eslint-disable-line no-throw-literal
    });
    env.rt.registerActivity('ReturnsBigInt', async () => 10n);
    env.rt.registerActivity('ReturnsCycle', async () => {
      const o = {};
      o.self = o;
      return o;
    });
    env.rt.registerOrchestration('CallsThrower', function* (ctx, name) {
      return yield ctx.scheduleActivity(name, '');
    });
    env.rt.registerOrchestration('Unencodable', function* () {
      return { n: 1n };
    });
    env.rt.registerOrchestration('ThrowsString', function* () {
      throw 'plain text'; // eslint-disable-line no-throw-literal
    });
    env.rt.registerOrchestration('YieldsJunk', function* () {
      yield 42;
    });
    env.rt.registerOrchestration('Hello', function* (ctx, s) {
      return yield ctx.scheduleActivity('Hello', s);
    });
    await env.rt.start();
    let st = await env.run('thrower', 'CallsThrower', 'ThrowsValue');
    assert.equal(st.status, 'Failed');
    assert.match(st.error, /threw a non-Error value: 42/);
    assert.equal(st.errorDetails.errorType, 'number');
    st = await env.run('bigint', 'CallsThrower', 'ReturnsBigInt');
    assert.equal(st.status, 'Failed');
    assert.match(st.error, /cannot encode the activity's output: .*BigInt/);
    st = await env.run('cycle', 'CallsThrower', 'ReturnsCycle');
    assert.equal(st.status, 'Failed');
    assert.match(st.error, /cannot encode the activity's output: .*circular/);
    st = await env.run('unencodable', 'Unencodable', '');
    assert.equal(st.status, 'Failed');
    assert.match(st.error, /cannot encode the orchestration's output/);
    st = await env.run('throws-string', 'ThrowsString', '');
    assert.equal(st.status, 'Failed');
    assert.equal(st.error, 'the orchestration threw a non-Error value: "plain text"');
    st = await env.run('junk', 'YieldsJunk', '');
    assert.equal(st.status, 'Failed');
    assert.match(st.error, /yielded 42/);
    await env.completed('after', 'Hello', 'still serving', 'Hello, still serving!');
  }));

// Beyond the list.

test('cancellation is visible to orchestration code, which may compensate', T, () =>
  withEnv(async (env) => {
    env.rt.registerOrchestration('Compensating', function* (ctx) {
      try {
        yield ctx.waitForEvent('never');
      } catch (e) {
        if (!(e instanceof CancelledError) || !ctx.isCancelRequested) throw new Error('not a cancellation');
        ctx.setValue('compensated', e.reason);
        throw e;
      }
    });
    await env.rt.start();
    await env.client.startOrchestration('comp', 'Compensating', '');
    await waitFor('the wait', () => env.historyHas('comp', 'ExternalSubscribed'));
    await env.client.cancelInstance('comp', 'stop');
    const st = await env.client.waitForOrchestration('comp', 30000);
    assert.equal(st.status, 'Failed');
    assert.equal(st.error, 'canceled: stop');
    assert.equal(await env.client.getValue('comp', 'compensated'), 'stop');
  }));

test('JSON values cross as values; activities see their context', T, () =>
  withEnv(async (env) => {
    const seen = [];
    env.rt.registerActivity('Echo', async (ctx, v) => {
      seen.push([ctx.activityName, ctx.orchestrationName, ctx.instanceId, ctx.attempt]);
      return { got: v, type: typeof v };
    });
    env.rt.registerOrchestration('Values', function* (ctx, input) {
      const a = yield ctx.scheduleActivity('Echo', { n: 1, list: [1, 'two'] });
      const b = yield ctx.scheduleActivity('Echo', 7);
      const c = yield ctx.scheduleActivity('Echo', null);
      return { input, a, b, c };
    });
    await env.rt.start();
    await env.completed('values', 'Values', { deep: { x: true } }, {
      input: { deep: { x: true } },
      a: { got: { n: 1, list: [1, 'two'] }, type: 'object' },
      b: { got: 7, type: 'number' },
      c: { got: null, type: 'object' },
    });
    assert.deepEqual(seen[0], ['Echo', 'Values', 'values', 1]);
  }));

test('retry with a per-attempt timeout ends with ActivityTimeoutError', T, () =>
  withEnv(async (env) => {
    env.rt.registerActivity('Hangs', async (ctx) => {
      await ctx.waitCancelled(5000);
      return 'late';
    });
    env.rt.registerOrchestration('Bounded', function* (ctx) {
      try {
        return yield ctx.scheduleActivityWithRetry('Hangs', '', { maxAttempts: 2, timeoutMs: 50, totalTimeoutMs: 10000 });
      } catch (e) {
        return `${e.name}:${e instanceof ActivityFailedError}`;
      }
    });
    await env.rt.start();
    await env.completed('bounded', 'Bounded', '', 'ActivityTimeoutError:true');
  }));
