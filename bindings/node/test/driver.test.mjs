// The JavaScript driver against hand-written activations (docs/protocol.md),
// without the engine: seq numbering, job order, races and drops, cancel.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import driverMod from '../lib/driver.cjs';
import contextMod from '../lib/context.cjs';
import { captureLogger } from './helpers.mjs';

const { Driver } = driverMod;
const { OrchestrationContext } = contextMod;

function act(jobs, { replaying = false } = {}) {
  return { protocol: 1, instance: 'i', execution_id: 1, name: 'T', version: '1.0.0', jobs: jobs.map((j) => (replaying ? { ...j, replaying: true } : j)) };
}
const start = (input = '') => ({ kind: 'start', input });
const driver = (fn, logger = null) => new Driver(fn, (d) => new OrchestrationContext(d), logger);
const strip = (cmds) => cmds.map((c) => ({ ...c }));

test('seq numbering and completion', () => {
  const d = driver(function* (ctx, x) {
    const a = yield ctx.scheduleActivity('A', x);
    const b = yield ctx.scheduleTimer(5);
    return [a, b];
  });
  assert.deepEqual(strip(d.activate(act([start('in')]))), [{ kind: 'schedule_activity', name: 'A', input: 'in', seq: 1 }]);
  assert.deepEqual(strip(d.activate(act([{ kind: 'activity', seq: 1, result: 'r' }]))), [{ kind: 'create_timer', delay_ms: 5, seq: 2 }]);
  assert.deepEqual(d.activate(act([{ kind: 'timer', seq: 2 }])), [{ kind: 'complete', output: '["r",null]' }]);
});

test('a cold replay gives the same commands as warm turns', () => {
  const orch = function* (ctx) {
    const g = yield ctx.newGuid();
    const r = yield ctx.race(ctx.waitForEvent('E'), ctx.scheduleTimer(100));
    return `${g}:${r.index}:${r.value}`;
  };
  const jobs = [start(), { kind: 'system_call', seq: 1, result: 'guid-1' }, { kind: 'event', seq: 2, name: 'E', data: 'x' }];
  const warm = driver(orch);
  let cmds = [];
  for (const j of jobs) cmds = cmds.concat(strip(warm.activate(act([j]))));
  const cold = driver(orch);
  assert.deepEqual(strip(cold.activate(act(jobs, { replaying: true }))), cmds);
  assert.deepEqual(cmds.slice(-2), [{ kind: 'drop_future', seq: 3 }, { kind: 'complete', output: 'guid-1:0:x' }]);
});

test('a race resolves by job order and drops the losers', () => {
  const d = driver(function* (ctx) {
    const a = ctx.scheduleActivity('A');
    const b = ctx.scheduleActivity('B');
    const r = yield ctx.race(a, b);
    return r.index;
  });
  d.activate(act([start()]));
  // Both complete in one activation: the first job wins.
  const out = d.activate(act([{ kind: 'activity', seq: 2, result: 'b' }, { kind: 'activity', seq: 1, result: 'a' }]));
  assert.deepEqual(out, [{ kind: 'drop_future', seq: 1 }, { kind: 'complete', output: '1' }]);
});

test('nested composites and errors', () => {
  const d = driver(function* (ctx) {
    const inner = ctx.race(ctx.scheduleActivity('A'), ctx.scheduleTimer(10));
    const both = yield ctx.all([inner, ctx.scheduleActivity('B')]);
    return [both[0].index, both[1]];
  });
  d.activate(act([start()]));
  const out = d.activate(act([{ kind: 'timer', seq: 2 }, { kind: 'activity', seq: 3, result: 'b' }]));
  assert.deepEqual(out, [{ kind: 'drop_future', seq: 1 }, { kind: 'complete', output: '[1,"b"]' }]);
});

test('race(race(a, b), c) and all([race(a, t), b]) with any number of tasks', () => {
  const d = driver(function* (ctx) {
    const r = yield ctx.race(ctx.race(ctx.waitForEvent('a'), ctx.waitForEvent('b')), ctx.waitForEvent('c'), ctx.waitForEvent('d'));
    return `${r.index}/${r.value.index}/${r.value.value}`;
  });
  assert.equal(d.activate(act([start()])).length, 4);
  const out = d.activate(act([{ kind: 'event', seq: 2, name: 'b', data: 'B' }]));
  // The outer race resolves as soon as the inner one does, so its losers are dropped first.
  assert.deepEqual(out, [{ kind: 'drop_future', seq: 3 }, { kind: 'drop_future', seq: 4 }, { kind: 'drop_future', seq: 1 }, { kind: 'complete', output: '0/1/B' }]);
});

test('an activity error is thrown in the generator as ActivityFailedError', () => {
  const d = driver(function* (ctx) {
    try {
      yield ctx.scheduleActivity('A');
    } catch (e) {
      return `${e.name}:${e.message}:${e.errorType}:${e instanceof Error}`;
    }
  });
  d.activate(act([start()]));
  const err = { category: 'application', kind: 'ActivityFailed', message: 'boom', error_type: 'RangeError' };
  assert.deepEqual(d.activate(act([{ kind: 'activity', seq: 1, error: err }])), [{ kind: 'complete', output: 'ActivityFailedError:boom:RangeError:true' }]);
});

test('cancel fails pending tasks and the code may compensate', () => {
  const d = driver(function* (ctx) {
    try {
      yield ctx.waitForEvent('E');
    } catch (e) {
      ctx.setCustomStatus('compensating');
      throw e;
    }
  });
  d.activate(act([start()]));
  const out = d.activate(act([{ kind: 'cancel', reason: 'stop' }]));
  assert.deepEqual(out[0], { kind: 'set_custom_status', status: 'compensating' });
  assert.equal(out[1].kind, 'fail');
  assert.equal(out[1].error.message, 'canceled: stop');
  assert.equal(out[1].error.error_type, 'CancelledError');
});

test('a throw or a bad yield fails the instance', () => {
  let d = driver(function* () {
    yield 42;
  });
  let out = d.activate(act([start()]));
  assert.equal(out[0].kind, 'fail');
  assert.match(out[0].error.message, /yielded 42/);
  assert.equal(out[0].error.error_type, 'TypeError');

  class MyError extends Error {}
  d = driver(function* () {
    throw new MyError('mine');
  });
  out = d.activate(act([start()]));
  assert.deepEqual(out[0].error, { category: 'application', kind: 'OrchestrationFailed', message: 'mine', error_type: 'MyError' });
});

test('async functions are rejected: orchestrations are generators', () => {
  const d = driver(async () => 'x');
  const out = d.activate(act([start()]));
  assert.equal(out[0].kind, 'fail');
  assert.match(out[0].error.message, /generator functions/);
});

test('returning a task instead of yielding it fails clearly', () => {
  const d = driver(function* (ctx) {
    return ctx.scheduleActivity('A');
  });
  const out = d.activate(act([start()]));
  assert.equal(out[1].kind, 'fail');
  assert.match(out[1].error.message, /return yield task/);
});

test('continue-as-new wins over a returned value', () => {
  let d = driver(function* (ctx, n) {
    yield ctx.continueAsNew(n + 1);
    return 'never';
  });
  assert.deepEqual(d.activate(act([start('1')])), [{ kind: 'continue_as_new', input: '2' }]);
  d = driver((ctx) => ctx.continueAsNewVersioned({ n: 1 }, '2.0.0'));
  assert.deepEqual(d.activate(act([start()])), [{ kind: 'continue_as_new', input: '{"n":1}', version: '2.0.0' }]);
});

test('a plain-function orchestration, KV and custom status start from the start job', () => {
  const d = driver((ctx) => {
    ctx.setValue('k', { v: 1 });
    return [ctx.getValue('k'), ctx.getValue('old'), ctx.getCustomStatus(), ctx.getKvAllKeys()];
  });
  const out = d.activate(act([{ kind: 'start', input: '', kv: { old: 'x' }, custom_status: 'carried' }]));
  assert.deepEqual(out, [
    { kind: 'set_kv', key: 'k', value: '{"v":1}' },
    { kind: 'complete', output: '["{\\"v\\":1}","x","carried",["k","old"]]' },
  ]);
});

test('unknown and late jobs are ignored', () => {
  const d = driver(function* (ctx) {
    const r = yield ctx.race(ctx.scheduleActivity('A'), ctx.scheduleTimer(1));
    yield ctx.scheduleTimer(1000);
    return r.index;
  });
  d.activate(act([start()]));
  assert.deepEqual(strip(d.activate(act([{ kind: 'timer', seq: 2 }]))), [{ kind: 'drop_future', seq: 1 }, { kind: 'create_timer', delay_ms: 1000, seq: 3 }]);
  // The loser completing late, and a seq nobody knows: nothing happens.
  assert.deepEqual(d.activate(act([{ kind: 'activity', seq: 1, result: 'late' }, { kind: 'activity', seq: 99, result: '?' }])), []);
  assert.deepEqual(d.activate(act([{ kind: 'timer', seq: 3 }])), [{ kind: 'complete', output: '1' }]);
});

test('isReplaying is set from the jobs and logs are dropped while replaying', () => {
  const seen = [];
  const logger = captureLogger();
  const d = driver(function* (ctx) {
    seen.push(ctx.isReplaying);
    ctx.traceInfo('hello');
    yield ctx.scheduleTimer(1);
    seen.push(ctx.isReplaying);
    ctx.traceWarn('after');
    return 'ok';
  }, logger);
  d.activate(act([start()], { replaying: true }));
  d.activate(act([{ kind: 'timer', seq: 1 }]));
  assert.deepEqual(seen, [true, false]);
  assert.deepEqual(logger.lines.map((l) => [l[0], l[1]]), [['warn', 'after']]);
  assert.equal(logger.lines[0][2].instanceId, 'i');
});

test('retry is a coroutine: attempts, durable backoff timers, and dropping it cancels its work', () => {
  const d = driver(function* (ctx) {
    return yield ctx.scheduleActivityWithRetry('F', 'x', { maxAttempts: 3, backoff: 'linear', backoffMs: 10 });
  });
  const fail = (seq) => ({ kind: 'activity', seq, error: { category: 'application', kind: 'ActivityFailed', message: 'no' } });
  assert.deepEqual(strip(d.activate(act([start()]))), [{ kind: 'schedule_activity', name: 'F', input: 'x', seq: 1 }]);
  assert.deepEqual(strip(d.activate(act([fail(1)]))), [{ kind: 'create_timer', delay_ms: 10, seq: 2 }]);
  assert.deepEqual(strip(d.activate(act([{ kind: 'timer', seq: 2 }]))), [{ kind: 'schedule_activity', name: 'F', input: 'x', seq: 3 }]);
  assert.deepEqual(strip(d.activate(act([fail(3)]))), [{ kind: 'create_timer', delay_ms: 20, seq: 4 }]);
  assert.deepEqual(strip(d.activate(act([{ kind: 'timer', seq: 4 }]))), [{ kind: 'schedule_activity', name: 'F', input: 'x', seq: 5 }]);
  const out = d.activate(act([fail(5)]));
  assert.equal(out[0].kind, 'fail');
  assert.equal(out[0].error.message, 'no');

  const r = driver(function* (ctx) {
    const x = yield ctx.race(ctx.scheduleActivityWithRetry('F', '', { maxAttempts: 5 }), ctx.scheduleTimer(5));
    return x.index;
  });
  // The retry coroutine starts when the code blocks, so the timer is seq 1 and the attempt seq 2.
  assert.deepEqual(strip(r.activate(act([start()]))), [{ kind: 'create_timer', delay_ms: 5, seq: 1 }, { kind: 'schedule_activity', name: 'F', input: '', seq: 2 }]);
  assert.deepEqual(r.activate(act([{ kind: 'timer', seq: 1 }])), [{ kind: 'drop_future', seq: 2 }, { kind: 'complete', output: '1' }]);
});

test('withTag routes an activity', () => {
  const d = driver(function* (ctx) {
    return yield ctx.scheduleActivity('Render', 'x').withTag('gpu');
  });
  assert.deepEqual(strip(d.activate(act([start()]))), [{ kind: 'schedule_activity', name: 'Render', input: 'x', tag: 'gpu', seq: 1 }]);
});

test('a closed driver releases its generators (finally blocks run)', () => {
  let cleaned = false;
  const d = driver(function* (ctx) {
    try {
      yield ctx.waitForEvent('never');
    } finally {
      cleaned = true;
    }
  });
  d.activate(act([start()]));
  d.close();
  assert.equal(cleaned, true);
  assert.throws(() => d.activate(act([])), /closed/);
});

test('a bad name fails the instance with a readable error', () => {
  const d = driver(function* (ctx) {
    yield ctx.scheduleActivity(42, 'x');
  });
  const out = d.activate(act([start()]));
  assert.deepEqual(out, [{ kind: 'fail', error: { category: 'application', kind: 'OrchestrationFailed', message: 'the activity name must be a non-empty string, got number', error_type: 'TypeError' } }]);
});
