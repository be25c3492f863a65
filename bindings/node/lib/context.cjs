'use strict';
// The contexts user code receives: OrchestrationContext for orchestration
// generators and ActivityContext for activities.

const payload = require('./payload.cjs');
const { Task, kinds } = require('./driver.cjs');
const { ActivityTimeoutError, CancelledError, TaskFailedError } = require('./errors.cjs');

const { ACTIVITY, TIMER, EVENT, SUB_ORCHESTRATION, SYSTEM_CALL, ALL, RACE, CONTINUE_AS_NEW } = kinds;

const BACKOFFS = ['none', 'fixed', 'linear', 'exponential'];

function pick(obj, names, def) {
  for (const n of names) if (obj[n] !== undefined && obj[n] !== null) return obj[n];
  return def;
}

/**
 * Normalizes a retry policy: {maxAttempts, backoff: "none"|"fixed"|"linear"|
 * "exponential", backoffMs, multiplier, maxBackoffMs, timeoutMs,
 * totalTimeoutMs}. snake_case keys are accepted too; a number as backoff is
 * a fixed delay in ms.
 */
function normalizeRetry(v) {
  const p = { maxAttempts: 3, backoff: 'exponential', backoffMs: 100, multiplier: 2, maxBackoffMs: 30000, timeoutMs: 0, totalTimeoutMs: 0 };
  if (v === undefined || v === null) return p;
  if (typeof v !== 'object') throw new TypeError(`retry policy must be an object, got ${typeof v}`);
  p.maxAttempts = Number(pick(v, ['maxAttempts', 'max_attempts'], p.maxAttempts));
  let backoff = pick(v, ['backoff', 'backoffStrategy', 'backoff_strategy'], p.backoff);
  let backoffMs = pick(v, ['backoffMs', 'backoff_ms', 'delayMs', 'delay_ms', 'baseMs', 'base_ms'], undefined);
  if (typeof backoff === 'number') {
    if (backoffMs === undefined) backoffMs = backoff;
    backoff = 'fixed';
  } else if (backoff && typeof backoff === 'object') {
    // {fixed: {delayMs: 10}} / {exponential: {baseMs, multiplier, maxMs}}
    const [kind, params = {}] = Object.entries(backoff)[0] || ['none', {}];
    backoff = kind;
    if (backoffMs === undefined) backoffMs = pick(params, ['delayMs', 'delay_ms', 'baseMs', 'base_ms', 'initialMs', 'initial_ms'], undefined);
    if (params.multiplier !== undefined) p.multiplier = Number(params.multiplier);
    const max = pick(params, ['maxMs', 'max_ms'], undefined);
    if (max !== undefined) p.maxBackoffMs = Number(max);
  }
  p.backoff = String(backoff || 'none').toLowerCase();
  if (backoffMs !== undefined) p.backoffMs = Number(backoffMs);
  p.multiplier = Number(pick(v, ['multiplier'], p.multiplier));
  p.maxBackoffMs = Number(pick(v, ['maxBackoffMs', 'max_backoff_ms', 'maxMs', 'max_ms'], p.maxBackoffMs));
  p.timeoutMs = Number(pick(v, ['timeoutMs', 'timeout_ms'], 0)) || 0;
  p.totalTimeoutMs = Number(pick(v, ['totalTimeoutMs', 'total_timeout_ms'], 0)) || 0;
  if (!BACKOFFS.includes(p.backoff)) throw new TypeError(`retry backoff ${JSON.stringify(p.backoff)}: want none, fixed, linear or exponential`);
  if (!Number.isFinite(p.maxAttempts) || p.maxAttempts < 1) throw new TypeError(`retry maxAttempts ${p.maxAttempts}: want 1 or more`);
  return p;
}

/** The wait after failed attempt `attempt` (1-based). */
function retryDelayMs(p, attempt) {
  const a = Math.max(attempt, 1);
  let d;
  switch (p.backoff) {
    case 'fixed':
      d = p.backoffMs;
      break;
    case 'linear':
      d = p.backoffMs * a;
      break;
    case 'exponential':
      d = p.backoffMs * Math.pow(p.multiplier || 2, a - 1);
      break;
    default:
      return 0;
  }
  if (p.maxBackoffMs > 0) d = Math.min(d, p.maxBackoffMs);
  return Math.floor(d);
}

/** A required name: a non-empty string (else a TypeError, which fails the instance). */
function nameOf(v, what) {
  if (typeof v !== 'string' || v === '') throw new TypeError(`${what} must be a non-empty string, got ${v === '' ? '""' : typeof v}`);
  return v;
}

function optionsOf(options) {
  if (options === undefined || options === null) return {};
  if (typeof options === 'string') return { sessionId: options };
  return options;
}

/**
 * The orchestration's handle on the engine, passed to the generator.
 *
 * Methods that schedule work return a Task at once; `yield` it to wait for
 * its value (a failure is thrown at the `yield`). The code must be
 * deterministic: it is re-run against its history after every restart. Do
 * I/O in activities; take time and GUIDs from the context.
 */
class OrchestrationContext {
  constructor(driver) {
    this._d = driver;
  }

  // ---------------------------------------------------------------- info

  get instanceId() {
    return this._d.instance;
  }

  get executionId() {
    return this._d.executionId;
  }

  get orchestrationName() {
    return this._d.name;
  }

  get orchestrationVersion() {
    return this._d.version;
  }

  get parentInstanceId() {
    return this._d.parentInstance || null;
  }

  /** True while the code re-runs decisions already in history. */
  get isReplaying() {
    return this._d.replaying;
  }

  /**
   * True once the instance is being cancelled: every pending task failed
   * with CancelledError; the code may compensate (set status or KV, start
   * a detached orchestration) before the instance ends.
   */
  get isCancelRequested() {
    return this._d.cancelRequested;
  }

  // ---------------------------------------------------------- scheduling

  /** Schedule activity `name`; yield the task for its result. options: {sessionId, tag}. */
  scheduleActivity(name, input, options) {
    const o = optionsOf(options);
    nameOf(name, 'the activity name');
    return this._activity(name, payload.encode(input, `the input of activity "${name}"`), o.sessionId, o.tag);
  }

  /** Schedule an activity on a session: every activity of one session runs on the worker that holds it. */
  scheduleActivityOnSession(name, input, sessionId) {
    return this.scheduleActivity(name, input, { sessionId });
  }

  /** Schedule an activity for workers serving `tag`. */
  scheduleActivityWithTag(name, input, tag) {
    return this.scheduleActivity(name, input, { tag });
  }

  _activity(name, input, sessionId, tag) {
    const d = this._d;
    const t = d.newTask(ACTIVITY, name);
    const cmd = { kind: 'schedule_activity', name, input };
    if (sessionId) cmd.session_id = String(sessionId);
    if (tag) cmd.tag = String(tag);
    d.emit(cmd, t);
    return t;
  }

  /**
   * Schedule an activity and retry failed attempts per `retry`:
   * {maxAttempts, backoff: "none"|"fixed"|"linear"|"exponential", backoffMs,
   * multiplier, maxBackoffMs, timeoutMs (per attempt), totalTimeoutMs}.
   * Every attempt is its own activity in history; waits are durable timers.
   */
  scheduleActivityWithRetry(name, input, retry, options) {
    nameOf(name, 'the activity name');
    const policy = normalizeRetry(retry);
    const o = optionsOf(options);
    const p = payload.encode(input, `the input of activity "${name}"`);
    const d = this._d;
    const inner = d.spawn(this._retry(name, p, policy, o.sessionId, o.tag));
    if (policy.totalTimeoutMs > 0) return d.spawn(this._totalTimeout(inner, name, policy.totalTimeoutMs));
    return inner;
  }

  scheduleActivityWithRetryOnSession(name, input, retry, sessionId) {
    return this.scheduleActivityWithRetry(name, input, retry, { sessionId });
  }

  *_retry(name, input, policy, sessionId, tag) {
    const attempts = Math.max(Math.floor(policy.maxAttempts), 1);
    let last;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const t = this._activity(name, input, sessionId, tag);
      if (policy.timeoutMs > 0) {
        const r = this.race(t, this.scheduleTimer(policy.timeoutMs));
        try {
          yield r;
        } catch (e) {
          if (!(e instanceof TaskFailedError)) throw e;
        }
        if (r.winner === 1) {
          throw new ActivityTimeoutError(`timeout: activity "${name}" timed out after ${policy.timeoutMs} ms`, { taskName: name, errorType: 'ActivityTimeoutError' });
        }
      }
      try {
        return yield t;
      } catch (e) {
        if (e instanceof CancelledError || !(e instanceof TaskFailedError)) throw e;
        last = e;
      }
      if (attempt < attempts) {
        this.traceWarn(`activity "${name}" attempt ${attempt} failed; retrying: ${last.message}`);
        const delay = retryDelayMs(policy, attempt);
        if (delay > 0) yield this.scheduleTimer(delay);
      }
    }
    throw last;
  }

  *_totalTimeout(inner, name, ms) {
    const r = yield this.race(inner, this.scheduleTimer(ms));
    if (r.index === 1) {
      throw new ActivityTimeoutError(`timeout: activity "${name}" did not succeed within ${ms} ms`, { taskName: name, errorType: 'ActivityTimeoutError' });
    }
    return r.value;
  }

  /** A durable timer of `delayMs` milliseconds (it survives restarts). */
  scheduleTimer(delayMs) {
    const n = Number(delayMs);
    if (!Number.isFinite(n) || n < 0) throw new RangeError(`timer delay ${delayMs} ms: want a number >= 0`);
    const t = this._d.newTask(TIMER, '');
    this._d.emit({ kind: 'create_timer', delay_ms: Math.ceil(n) }, t);
    return t;
  }

  /** Alias of scheduleTimer. */
  createTimer(delayMs) {
    return this.scheduleTimer(delayMs);
  }

  /**
   * The data of the next external event `name` (Client.raiseEvent). Events
   * raised before the wait are kept, first raised first taken.
   */
  waitForEvent(name) {
    nameOf(name, 'the event name');
    const t = this._d.newTask(EVENT, name);
    this._d.emit({ kind: 'wait_event', name }, t);
    return t;
  }

  /** The next message of event queue `queueName` (Client.enqueueEvent); unconsumed messages survive continue-as-new. */
  dequeueEvent(queueName) {
    nameOf(queueName, 'the queue name');
    const t = this._d.newTask(EVENT, queueName);
    this._d.emit({ kind: 'dequeue_event', name: queueName }, t);
    return t;
  }

  /** Start a child orchestration; yield the task for its output. */
  scheduleSubOrchestration(name, input) {
    return this._sub(name, null, null, input);
  }

  scheduleSubOrchestrationWithId(name, instanceId, input) {
    return this._sub(name, null, instanceId, input);
  }

  scheduleSubOrchestrationVersioned(name, version, input) {
    return this._sub(name, version, null, input);
  }

  scheduleSubOrchestrationVersionedWithId(name, version, instanceId, input) {
    return this._sub(name, version, instanceId, input);
  }

  _sub(name, version, instanceId, input) {
    nameOf(name, 'the sub-orchestration name');
    const p = payload.encode(input, `the input of sub-orchestration "${name}"`);
    const t = this._d.newTask(SUB_ORCHESTRATION, name);
    const cmd = { kind: 'schedule_sub_orchestration', name, input: p };
    if (version) cmd.version = String(version);
    if (instanceId) cmd.instance = String(instanceId);
    this._d.emit(cmd, t);
    return t;
  }

  /**
   * Start an independent orchestration (fire and forget). The start is
   * recorded at once; the returned task is already complete, so yield it
   * or not.
   */
  startOrchestration(name, instanceId, input) {
    return this.startOrchestrationVersioned(name, null, instanceId, input);
  }

  startOrchestrationVersioned(name, version, instanceId, input) {
    nameOf(name, 'the orchestration name');
    nameOf(instanceId, 'the instance id');
    const p = payload.encode(input, `the input of orchestration "${name}"`);
    const cmd = { kind: 'start_orchestration', name, instance: String(instanceId), input: p };
    if (version) cmd.version = String(version);
    this._d.emit(cmd, null);
    return this._d.doneTask(null);
  }

  /** End this execution and start the next one with `input`: `yield ctx.continueAsNew(next)` (or return it). */
  continueAsNew(input) {
    return this.continueAsNewVersioned(input, null);
  }

  continueAsNewVersioned(input, version) {
    const p = payload.encode(input, 'the continue-as-new input');
    this._d.can = { input: p, version: version || '' };
    return this._d.newTask(CONTINUE_AS_NEW, '');
  }

  // ---------------------------------------------------------- composites

  /**
   * A task that completes when every task has; its value is the array of
   * their values, in order. The first failure (in argument order) is thrown.
   */
  all(tasks) {
    if (!Array.isArray(tasks)) tasks = Array.from(tasks);
    return this._d.composite(ALL, tasks);
  }

  /**
   * A task won by the first of `tasks` to complete (in history order,
   * identical on every replay); the losers are cancelled. Its value is
   * {index, value}. Nestable: ctx.race(ctx.race(a, b), c). Also takes one array.
   */
  race(...tasks) {
    if (tasks.length === 1 && Array.isArray(tasks[0])) tasks = tasks[0].slice();
    return this._d.composite(RACE, tasks);
  }

  /** Alias of race. */
  select(...tasks) {
    return this.race(...tasks);
  }

  // -------------------------------------------------------- system calls

  _systemCall(op, input) {
    const t = this._d.newTask(SYSTEM_CALL, op);
    const cmd = { kind: 'system_call', op };
    if (input) cmd.input = input;
    this._d.emit(cmd, t);
    return t;
  }

  /** A random UUID string, recorded in history (the same on replay). Yield it. */
  newGuid() {
    return this._systemCall('new_guid', '');
  }

  /** The current time in ms since the epoch, recorded in history (the same on replay). Yield it. */
  utcNow() {
    return this._systemCall('utc_now', '');
  }

  /** Read a key of another instance's KV store (recorded in history); yields the value or null. */
  getValueFromInstance(instanceId, key) {
    return this._systemCall('get_kv', JSON.stringify({ instance: String(instanceId), key: String(key) }));
  }

  getKvValueFromInstance(instanceId, key) {
    return this.getValueFromInstance(instanceId, key);
  }

  // ---------------------------------------------------------- state

  /** Publish a status clients can read (no yield needed). A non-string is stored as JSON. */
  setCustomStatus(status) {
    const s = typeof status === 'string' ? status : payload.encode(status, 'the custom status');
    this._d.customStatus = s;
    this._d.emit({ kind: 'set_custom_status', status: s }, null);
  }

  resetCustomStatus() {
    this._d.customStatus = null;
    this._d.emit({ kind: 'set_custom_status' }, null);
  }

  getCustomStatus() {
    return this._d.customStatus;
  }

  /** Set a key of this instance's KV store (no yield needed). A non-string is stored as JSON. */
  setValue(key, value) {
    const k = String(key);
    const v = typeof value === 'string' ? value : payload.encode(value, `KV value "${k}"`);
    this._d.kv.set(k, v);
    this._d.emit({ kind: 'set_kv', key: k, value: v }, null);
  }

  /** A key of this instance's KV store (the raw string), or null. */
  getValue(key) {
    const v = this._d.kv.get(String(key));
    return v === undefined ? null : v;
  }

  /** A key of this instance's KV store decoded with the payload rule, or null. */
  getValueTyped(key) {
    const v = this.getValue(key);
    return v === null ? null : payload.decode(v);
  }

  clearValue(key) {
    const k = String(key);
    this._d.kv.delete(k);
    this._d.emit({ kind: 'clear_kv', key: k }, null);
  }

  clearAllValues() {
    this._d.kv.clear();
    this._d.emit({ kind: 'clear_all_kv' }, null);
  }

  getKvAllValues() {
    return Object.fromEntries(this._d.kv);
  }

  getKvAllKeys() {
    return Array.from(this._d.kv.keys()).sort();
  }

  getKvLength() {
    return this._d.kv.size;
  }

  setKvValue(key, value) {
    this.setValue(key, value);
  }

  getKvValue(key) {
    return this.getValue(key);
  }

  clearKvValue(key) {
    this.clearValue(key);
  }

  clearAllKvValues() {
    this.clearAllValues();
  }

  // ---------------------------------------------------------- logging

  _log(level, message) {
    const d = this._d;
    const logger = d.logger;
    if (d.replaying || logger === null) return;
    const f = logger[level];
    if (typeof f !== 'function') return;
    try {
      f.call(logger, String(message), { instanceId: d.instance, executionId: d.executionId, orchestration: d.name, source: 'orchestration' });
    } catch (_) {
      /* a broken logger must not break the orchestration */
    }
  }

  /** Log once per decision (dropped while replaying). */
  traceInfo(message) {
    this._log('info', message);
  }

  traceWarn(message) {
    this._log('warn', message);
  }

  traceError(message) {
    this._log('error', message);
  }

  traceDebug(message) {
    this._log('debug', message);
  }
}

// The original SDK's *Typed variants: every call here is typed already
// (values are encoded and decoded with the payload rule).
for (const m of ['scheduleActivity', 'scheduleActivityOnSession', 'scheduleActivityWithRetry', 'scheduleActivityWithRetryOnSession',
  'scheduleSubOrchestration', 'scheduleSubOrchestrationWithId', 'scheduleSubOrchestrationVersioned', 'waitForEvent', 'dequeueEvent',
  'startOrchestration', 'startOrchestrationVersioned', 'continueAsNew', 'all', 'race']) {
  Object.defineProperty(OrchestrationContext.prototype, m + 'Typed', {
    value: OrchestrationContext.prototype[m],
    writable: true,
    configurable: true,
  });
}

/** What an activity receives with its input. */
class ActivityContext {
  constructor(info, runtime) {
    info = info || {};
    this.instanceId = info.instance_id || '';
    this.executionId = info.execution_id || 0;
    this.orchestrationName = info.orchestration_name || '';
    this.orchestrationVersion = info.orchestration_version || '';
    this.activityName = info.activity_name || '';
    this.activityId = info.activity_id || 0;
    this.attempt = info.attempt || 1;
    this.workerId = info.worker_id || '';
    this.sessionId = info.session_id || null;
    this.tag = info.tag || null;
    this._runtime = runtime || null;
    this._cancelled = false;
    this._ac = null;
    this._waiters = null;
  }

  /**
   * True once the activity is cancelled (it lost a race, its orchestration
   * ended, or the runtime is shutting down). Long activities should check
   * it, or pass ctx.signal to what they await, and return early.
   */
  isCancelled() {
    return this._cancelled;
  }

  /** An AbortSignal aborted when the activity is cancelled: fetch(url, { signal: ctx.signal }). */
  get signal() {
    if (this._ac === null) {
      this._ac = new AbortController();
      if (this._cancelled) this._ac.abort(new CancelledError('activity cancelled'));
    }
    return this._ac.signal;
  }

  /** Resolves true once the activity is cancelled, or false after `timeoutMs` (never, if omitted). */
  waitCancelled(timeoutMs) {
    if (this._cancelled) return Promise.resolve(true);
    return new Promise((resolve) => {
      let timer = null;
      const waiter = () => {
        if (timer !== null) clearTimeout(timer);
        resolve(true);
      };
      if (this._waiters === null) this._waiters = new Set();
      this._waiters.add(waiter);
      if (timeoutMs !== undefined && timeoutMs !== null) {
        timer = setTimeout(() => {
          this._waiters.delete(waiter);
          resolve(false);
        }, Math.max(0, Number(timeoutMs) || 0));
      }
    });
  }

  _cancel() {
    if (this._cancelled) return;
    this._cancelled = true;
    if (this._ac !== null) this._ac.abort(new CancelledError('activity cancelled'));
    const ws = this._waiters;
    this._waiters = null;
    if (ws !== null) for (const w of ws) w();
  }

  /** A Client on the runtime's store, to start or signal orchestrations. */
  getClient() {
    if (this._runtime === null) throw new Error('no client available for this activity');
    return this._runtime._getClient();
  }

  _log(level, message) {
    const logger = this._runtime ? this._runtime._logger : null;
    if (!logger || typeof logger[level] !== 'function') return;
    try {
      logger[level](String(message), { instanceId: this.instanceId, activity: this.activityName, activityId: this.activityId, source: 'activity' });
    } catch (_) {
      /* never let logging fail the activity */
    }
  }

  traceInfo(message) {
    this._log('info', message);
  }

  traceWarn(message) {
    this._log('warn', message);
  }

  traceError(message) {
    this._log('error', message);
  }

  traceDebug(message) {
    this._log('debug', message);
  }
}

module.exports = { OrchestrationContext, ActivityContext, Task, normalizeRetry, retryDelayMs };
