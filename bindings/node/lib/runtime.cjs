'use strict';
// The runtime: runs orchestrations and activities registered in JavaScript.
//
// The Go core does the work — fetching turns, replaying histories,
// committing — and hands this process what only JavaScript can do: each
// turn of a JavaScript orchestration (an activation) and each JavaScript
// activity. The addon's pump thread pulls that work with dx_poll and hands
// it to the event loop; activations run inline (orchestration code is short
// and deterministic) and are answered at once, activities run as ordinary
// async functions and are answered when they settle.

const { performance } = require('node:perf_hooks');
const native = require('./native.cjs');
const payload = require('./payload.cjs');
const { Driver, isThenable } = require('./driver.cjs');
const { ActivityContext, OrchestrationContext } = require('./context.cjs');
const { Client } = require('./client.cjs');
const { Provider } = require('./provider.cjs');
const { ClosedError, DuroxideError, InvalidArgumentError, PayloadError, Status, errorTypeOf, messageOf } = require('./errors.cjs');

const POLL_TIMEOUT_MS = 200;

// Runtime options: camelCase here, snake_case for the core (dx_runtime_new).
const CORE_OPTIONS = [
  'orchestrationConcurrency',
  'workerConcurrency',
  'maxAttempts',
  'pollTimeoutMs',
  'orchestratorLockTimeoutMs',
  'workerLockTimeoutMs',
  'unregisteredBackoffMs',
  'unregisteredBackoffMaxMs',
  'activityCancellationGraceMs',
  'instanceCacheSize',
  'workerNodeId',
  'sessionLockTimeoutMs',
  'activationTimeoutMs',
  'logLevel',
];
// Options of the original SDK this core has no use for: accepted, ignored.
const IGNORED_OPTIONS = ['dispatcherPollIntervalMs', 'logFormat', 'serviceName', 'serviceVersion', 'maxSessionsPerRuntime', 'sessionIdleTimeoutMs'];

const TAG_MODES = { defaultonly: 'default_only', default_only: 'default_only', any: 'any', none: 'none', tags: 'tags', only: 'tags', defaultand: 'default_and', default_and: 'default_and' };

function tagFilter(f, tags) {
  if (typeof f === 'string') {
    const mode = TAG_MODES[f.toLowerCase()];
    if (!mode) throw new InvalidArgumentError(`workerTagFilter ${JSON.stringify(f)}: want "defaultOnly", "any", "none", {tags: [...]} or {defaultAnd: [...]}`);
    return { mode, tags: tags || [] };
  }
  if (f && typeof f === 'object') {
    if (Array.isArray(f.tags) && !f.mode) return { mode: 'tags', tags: f.tags };
    if (Array.isArray(f.defaultAnd)) return { mode: 'default_and', tags: f.defaultAnd };
    if (f.mode) return { mode: TAG_MODES[String(f.mode).toLowerCase()] || f.mode, tags: f.tags || [] };
  }
  throw new InvalidArgumentError('workerTagFilter: want "defaultOnly", "any", "none", {tags: [...]} or {defaultAnd: [...]}');
}

function runtimeOptionsJson(options) {
  const out = {};
  for (const [k, v] of Object.entries(options)) {
    if (v === undefined || v === null || k === 'logger' || IGNORED_OPTIONS.includes(k) || k === 'workerTagFilterTags') continue;
    if (k === 'workerTagFilter') {
      out.worker_tag_filter = tagFilter(v, options.workerTagFilterTags);
    } else if (k === 'limits') {
      out.limits = payload.snake(v);
    } else if (CORE_OPTIONS.includes(k)) {
      out[k.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase())] = v;
    } else {
      throw new InvalidArgumentError(`unknown runtime option ${JSON.stringify(k)}; known: ${CORE_OPTIONS.concat(['workerTagFilter', 'limits', 'logger']).join(', ')}`);
    }
  }
  return Object.keys(out).length ? JSON.stringify(out) : null;
}

/** The default logger: orchestration and activity traces on the console (debug dropped). */
const consoleLogger = {
  debug() {},
  info(msg, f) {
    console.info(prefix(f) + msg);
  },
  warn(msg, f) {
    console.warn(prefix(f) + msg);
  },
  error(msg, f) {
    console.error(prefix(f) + msg);
  },
};

function prefix(f) {
  if (!f) return '[duroxide] ';
  if (f.source === 'orchestration') return `[duroxide ${f.instanceId}#${f.executionId} ${f.orchestration}] `;
  if (f.source === 'activity') return `[duroxide ${f.instanceId} ${f.activity}#${f.activityId}] `;
  return '[duroxide] ';
}

function isAsyncFunction(fn) {
  const n = fn && fn.constructor && fn.constructor.name;
  return n === 'AsyncFunction' || n === 'AsyncGeneratorFunction';
}

// Completing a task that is no longer waited for is not an error.
const IGNORABLE = new Set([Status.NOT_FOUND, Status.CLOSED, Status.HANDLE]);

/**
 * Runs orchestrations and activities: `new Runtime(provider, options)`,
 * register them, then `await runtime.start()`. `await runtime.shutdown()`
 * drains in-flight work and releases it.
 */
class Runtime {
  /**
   * @param {Provider} provider
   * @param {object} [options] see RuntimeOptions in index.d.ts
   */
  constructor(provider, options) {
    if (!(provider instanceof Provider)) throw new TypeError('new Runtime(provider) needs a SqliteProvider or PostgresProvider');
    options = options || {};
    if (typeof options !== 'object') throw new TypeError('runtime options must be an object');
    this.options = { ...options };
    this._logger = options.logger === undefined ? consoleLogger : options.logger;
    const lib = native.load();
    this._h = lib.runtimeNew(provider._handle(), runtimeOptionsJson(options));
    this.provider = provider;
    this._orchestrations = new Map();
    this._activities = new Map();
    this._drivers = new Map();
    this._activityCtxs = new Map();
    this._state = 'new';
    this._starting = null;
    this._stopping = null;
    this._poller = 0;
    this._pumpDone = null;
    this._pumpResolve = null;
    this._client = null;
    // Figures for benchmarks: activations handled here, time spent in JavaScript.
    this._activations = 0;
    this._activationMs = 0;
  }

  _check(what) {
    if (this._state === 'stopping' || this._state === 'stopped') {
      throw new ClosedError(`this runtime is shut down: cannot ${what}; create a new Runtime`);
    }
  }

  // ------------------------------------------------------------ registration

  /** Register an activity `async (ctx, input) => output`. */
  registerActivity(name, fn) {
    this._check('register an activity');
    if (typeof name !== 'string' || !name) throw new TypeError('registerActivity(name, fn): name must be a non-empty string');
    if (typeof fn !== 'function') throw new TypeError(`activity "${name}": ${typeof fn} is not a function`);
    native.load().registerActivity(this._h, name);
    this._activities.set(name, fn);
    return this;
  }

  /** Register an orchestration `function* (ctx, input) { ... }` as version 1.0.0. */
  registerOrchestration(name, fn) {
    return this.registerOrchestrationVersioned(name, '1.0.0', fn);
  }

  /**
   * Register an orchestration as an exact (semver) version. New instances
   * run the latest version unless started pinned to one; running instances
   * keep replaying on theirs.
   */
  registerOrchestrationVersioned(name, version, fn) {
    this._check('register an orchestration');
    if (typeof name !== 'string' || !name) throw new TypeError('registerOrchestration(name, fn): name must be a non-empty string');
    if (typeof fn !== 'function') throw new TypeError(`orchestration "${name}": ${typeof fn} is not a function`);
    if (isAsyncFunction(fn)) {
      throw new TypeError(`orchestration "${name}": orchestrations are generator functions (function*), not async functions`);
    }
    const v = version || '1.0.0';
    native.load().registerOrchestration(this._h, name, v);
    this._orchestrations.set(name + '\0' + v, fn);
    return this;
  }

  // The original SDK's *Typed registrations: values are typed already.
  registerActivityTyped(name, fn) {
    return this.registerActivity(name, fn);
  }

  registerOrchestrationTyped(name, fn) {
    return this.registerOrchestration(name, fn);
  }

  registerOrchestrationVersionedTyped(name, version, fn) {
    return this.registerOrchestrationVersioned(name, version, fn);
  }

  // ------------------------------------------------------------ lifecycle

  /** Start the runtime; resolves once it runs. Work then arrives on the event loop. */
  start() {
    if (this._state === 'running') return Promise.resolve();
    if (this._state === 'starting') return this._starting;
    if (this._state !== 'new') return Promise.reject(new ClosedError('this runtime was shut down; create a new Runtime'));
    this._state = 'starting';
    this._starting = this._start();
    return this._starting;
  }

  async _start() {
    const lib = native.load();
    this._pumpDone = new Promise((resolve) => {
      this._pumpResolve = resolve;
    });
    try {
      this._poller = lib.pollerStart(this._h, false, POLL_TIMEOUT_MS, (kind, rc, data) => this._onPoll(kind, rc, data));
      await lib.runtimeStart(this._h);
    } catch (e) {
      if (this._poller) lib.pollerStop(this._poller);
      this._poller = 0;
      if (this._state === 'starting') this._state = 'new';
      throw e;
    }
    if (this._state === 'starting') this._state = 'running';
  }

  /** True while the runtime runs. */
  get isRunning() {
    return this._state === 'running';
  }

  /**
   * Stop taking new work, let in-flight turns and activities finish for up
   * to `timeoutMs` (default 10 s), cancel the rest (it runs again later,
   * here or elsewhere), and release the runtime. Idempotent. Afterwards
   * nothing of the runtime keeps the process alive.
   */
  shutdown(timeoutMs) {
    if (this._stopping === null) this._stopping = this._shutdown(timeoutMs);
    return this._stopping;
  }

  async _shutdown(timeoutMs) {
    const lib = native.load();
    if (this._state === 'starting') await this._starting.catch(() => {});
    const started = this._state === 'running';
    this._state = 'stopping';
    let warning = null;
    try {
      if (started) {
        const ms = timeoutMs === undefined || timeoutMs === null ? 10000 : Math.max(1, Math.floor(Number(timeoutMs) || 1));
        try {
          // Blocks a thread of its own while in-flight work drains; the pump
          // keeps delivering activations and activities meanwhile.
          await lib.runtimeShutdown(this._h, ms);
        } catch (e) {
          warning = e;
        }
        await this._pumpDone;
      } else if (this._poller) {
        lib.pollerStop(this._poller);
      }
    } finally {
      for (const ctx of this._activityCtxs.values()) ctx._cancel();
      this._activityCtxs.clear();
      for (const d of this._drivers.values()) d.close();
      this._drivers.clear();
      if (this._client !== null) await this._client.close().catch(() => {});
      try {
        await lib.runtimeClose(this._h);
      } catch (e) {
        if (!(e instanceof ClosedError) && e.code !== Status.HANDLE) warning = warning || e;
      }
      this._state = 'stopped';
    }
    if (warning) this._log('warn', `runtime shutdown: ${warning.message}`);
  }

  /** Alias of shutdown(). */
  close(timeoutMs) {
    return this.shutdown(timeoutMs);
  }

  /**
   * The core's counters (turns, completions, activities, …) plus the host
   * round-trip figures and this process's activation time.
   */
  metricsSnapshot() {
    if (this._state === 'stopped') return null;
    const m = JSON.parse(native.load().runtimeMetrics(this._h));
    m.js_activations = this._activations;
    m.js_activation_ns_total = Math.round(this._activationMs * 1e6);
    return payload.camel(m);
  }

  /** @internal A client on the runtime's store, for activities. */
  _getClient() {
    this._check('create a client');
    if (this._client === null) this._client = new Client(this.provider);
    return this._client;
  }

  _log(level, msg) {
    const l = this._logger;
    if (l && typeof l[level] === 'function') {
      try {
        l[level](msg, { source: 'runtime' });
      } catch (_) {
        /* ignore */
      }
    }
  }

  // ------------------------------------------------------------ the pump

  _onPoll(kind, rc, data) {
    if (kind === 0) {
      let items;
      try {
        items = JSON.parse(data);
      } catch (e) {
        this._log('error', `duroxide: undecodable poll items: ${e.message}`);
        return;
      }
      for (let i = 0; i < items.length; i++) {
        const item = items[i];
        try {
          this._dispatch(item);
        } catch (e) {
          this._log('error', `duroxide: failed to handle a ${item && item.type} item: ${(e && e.stack) || e}`);
        }
      }
    } else if (kind === 1) {
      this._poller = 0;
      if (this._pumpResolve) this._pumpResolve();
      if (this._state === 'running') {
        // Closed under us (only when the environment is torn down).
        this._state = 'stopped';
      }
    } else {
      this._log('error', `duroxide poll failed: ${data}`);
    }
  }

  _dispatch(item) {
    switch (item.type) {
      case 'activation':
        this._onActivation(item);
        break;
      case 'activity':
        this._onActivity(item);
        break;
      case 'activity_cancelled': {
        const ctx = this._activityCtxs.get(item.task_id);
        if (ctx !== undefined) ctx._cancel();
        break;
      }
      case 'driver_closed': {
        const d = this._drivers.get(item.driver_id);
        if (d !== undefined) {
          this._drivers.delete(item.driver_id);
          d.close();
        }
        break;
      }
      default:
        break;
    }
  }

  _onActivation(item) {
    const t0 = performance.now();
    const did = item.driver_id;
    const act = item.activation || {};
    let drv = this._drivers.get(did);
    let data;
    try {
      if (drv === undefined) {
        const version = item.registered_version || '1.0.0';
        const fn = this._orchestrations.get(act.name + '\0' + version);
        if (fn === undefined) throw new DuroxideError(`orchestration "${act.name}" version ${version} is not registered in this process`);
        drv = new Driver(fn, (d) => new OrchestrationContext(d), this._logger);
        this._drivers.set(did, drv);
      }
      data = JSON.stringify({ protocol: 1, commands: drv.activate(act) });
    } catch (e) {
      this._drivers.delete(did);
      if (drv !== undefined) drv.close();
      this._log('error', `duroxide: driver error for "${act.instance}": ${(e && e.stack) || e}`);
      data = JSON.stringify({ protocol: 1, error: `${errorTypeOf(e)}: ${messageOf(e, 'the driver')}` });
    }
    const err = native.load().completeActivation(this._h, did, data);
    this._activations++;
    this._activationMs += performance.now() - t0;
    if (err !== undefined && !IGNORABLE.has(err.code)) this._log('error', `duroxide: completing an activation failed: ${err.message}`);
  }

  // ------------------------------------------------------------ activities

  _onActivity(item) {
    const taskId = item.task_id;
    const name = item.name || '';
    const ctx = new ActivityContext(item.info, this);
    this._activityCtxs.set(taskId, ctx);
    const fn = this._activities.get(name);
    let result;
    try {
      if (fn === undefined) throw new DuroxideError(`activity "${name}" is not registered in this process`);
      result = fn(ctx, payload.decode(item.input));
    } catch (e) {
      this._completeErr(taskId, e);
      return;
    }
    if (isThenable(result)) {
      Promise.resolve(result).then(
        (v) => this._completeOk(taskId, v),
        (e) => this._completeErr(taskId, e),
      );
    } else {
      this._completeOk(taskId, result);
    }
  }

  _completeOk(taskId, value) {
    let p;
    try {
      p = payload.encode(value, "the activity's output");
    } catch (e) {
      this._completeErr(taskId, e);
      return;
    }
    this._activityCtxs.delete(taskId);
    this._completeActivity(taskId, true, p);
  }

  _completeErr(taskId, e) {
    this._activityCtxs.delete(taskId);
    let data;
    try {
      data = JSON.stringify({ message: messageOf(e, 'the activity'), error_type: e instanceof PayloadError ? 'PayloadError' : errorTypeOf(e) });
    } catch (_) {
      data = JSON.stringify({ message: 'the activity failed with an error that cannot be described', error_type: 'Error' });
    }
    this._completeActivity(taskId, false, data);
  }

  _completeActivity(taskId, ok, data) {
    if (this._state === 'stopped') return;
    let err;
    try {
      err = native.load().completeActivity(this._h, taskId, ok, data);
    } catch (e) {
      err = e;
    }
    if (err !== undefined && !IGNORABLE.has(err.code)) this._log('error', `duroxide: completing activity task ${taskId} failed: ${err.message}`);
  }

  toString() {
    return `Runtime(${this._state}, ${this.provider})`;
  }
}

module.exports = { Runtime, consoleLogger, runtimeOptionsJson };
