'use strict';
// The JavaScript orchestration driver: it speaks the turn protocol of
// docs/protocol.md with the Go replay engine.
//
// A driver runs one execution of one instance. It keeps a table seq → task
// (the pending futures), the composites built on them (all, race, nested
// freely) and the coroutines of the code (the orchestration generator, plus
// internal ones such as retry loops). For each activation it applies the
// jobs one at a time and, after each, steps the generators until every one
// is blocked on an unresolved task or finished; then it returns the
// commands the code issued, in order. It mirrors the Go driver
// (core/orchestration, the reference) and the Python one.

const payload = require('./payload.cjs');
const {
  ActivityFailedError,
  CancelledError,
  DuroxideError,
  SubOrchestrationFailedError,
  SystemCallFailedError,
  TaskFailedError,
  describe,
  errorTypeOf,
  messageOf,
} = require('./errors.cjs');

// Task kinds.
const ACTIVITY = 1;
const TIMER = 2;
const EVENT = 3;
const SUB_ORCHESTRATION = 4;
const SYSTEM_CALL = 5;
const ALL = 6;
const RACE = 7;
const COROUTINE = 8;
const DONE = 9;
const CONTINUE_AS_NEW = 10;

const KIND_NAMES = ['', 'activity', 'timer', 'event', 'sub-orchestration', 'system call', 'all', 'race', 'coroutine', 'done', 'continue-as-new'];

/**
 * A durable task: the pending result of something the orchestration
 * scheduled. Orchestration code `yield`s it to wait for its value; a
 * failure is thrown at the `yield`. Tasks compose with ctx.all and ctx.race.
 */
class Task {
  constructor(driver, kind, name) {
    this._d = driver;
    this._kind = kind;
    this._seq = 0;
    this._name = name || '';
    this._done = false;
    this._failed = false;
    this._value = undefined;
    this._error = undefined;
    this._parents = null;
    this._children = null;
    this._winner = -1;
    this._co = null;
    this._dropped = false;
    this._cmd = null;
    const co = driver._current;
    if (co !== null && !co.main) co.owned.push(this);
  }

  /** True once the task has a value or an error (yield would not wait). */
  isCompleted() {
    return this._done;
  }

  /** For a race: the index of the winning branch (-1 before it is decided). */
  get winner() {
    return this._kind === RACE && this._done ? this._winner : -1;
  }

  /** Abandon the task: its work is cancelled as if it lost a race. */
  cancel() {
    if (!this._d.done) this._d._drop(this, 'cancelled by the orchestration');
  }

  /**
   * Route an activity to workers serving `tag` (chain right after
   * scheduling: `ctx.scheduleActivity("Render", x).withTag("gpu")`).
   */
  withTag(tag) {
    if (this._kind !== ACTIVITY || this._cmd === null) {
      throw new TypeError('withTag() applies to an activity task, right after ctx.scheduleActivity');
    }
    if (!this._d.cmds.includes(this._cmd)) {
      throw new TypeError('withTag() must be chained to ctx.scheduleActivity, before the task is yielded');
    }
    if (tag) this._cmd.tag = String(tag);
    else delete this._cmd.tag;
    return this;
  }

  toString() {
    const what = this._name ? ` ${JSON.stringify(this._name)}` : '';
    const seq = this._seq ? ` seq=${this._seq}` : '';
    return `Task(${KIND_NAMES[this._kind]}${what}${seq} ${this._done ? 'done' : 'pending'})`;
  }

  _addParent(p) {
    if (this._parents === null) this._parents = [p];
    else this._parents.push(p);
  }

  _ok(value) {
    this._resolve(value, undefined, false);
  }

  _fail(error) {
    this._resolve(undefined, error, true);
  }

  _resolve(value, error, failed) {
    if (this._done) return;
    this._done = true;
    this._value = value;
    this._error = error;
    this._failed = failed;
    const ps = this._parents;
    if (ps !== null) for (let i = 0; i < ps.length; i++) ps[i]._childResolved(this);
  }

  _childResolved(c) {
    if (this._done) return;
    const children = this._children || [];
    if (this._kind === ALL) {
      for (const ch of children) if (!ch._done) return;
      for (const ch of children) {
        if (ch._failed) {
          this._fail(ch._error);
          return;
        }
      }
      this._ok(children.map((ch) => ch._value));
    } else if (this._kind === RACE && c !== null) {
      const idx = Math.max(children.indexOf(c), 0);
      this._winner = idx;
      if (c._failed) this._fail(c._error);
      else this._ok({ index: idx, value: c._value });
      for (const ch of children) if (ch !== c && !ch._done) this._d._drop(ch, 'lost a race');
    }
  }
}

class Coroutine {
  constructor(gen, main) {
    this.gen = gen;
    this.main = main;
    this.started = false;
    this.done = false;
    this.killed = false;
    this.waiting = null;
    this.task = null;
    this.owned = [];
  }
}

function isGenerator(v) {
  return v !== null && typeof v === 'object' && typeof v.next === 'function' && typeof v.throw === 'function' && typeof v.return === 'function';
}

function isThenable(v) {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof v.then === 'function';
}

function closeGenerator(gen) {
  try {
    gen.return(undefined);
  } catch (_) {
    /* a finally block that throws while being cancelled: nothing to report to */
  }
}

/** The recorded form of an error that ended orchestration code. */
function errorDetails(e) {
  let etype = errorTypeOf(e);
  if (e instanceof TaskFailedError && e.errorType) etype = e.errorType;
  return { category: 'application', kind: 'OrchestrationFailed', message: messageOf(e, 'the orchestration'), error_type: etype };
}

/** Runs one execution of one orchestration for the engine. */
class Driver {
  /**
   * @param {Function} fn the orchestration: function* (ctx, input)
   * @param {(d: Driver) => object} ctxFactory makes the context the code receives
   * @param {object|null} logger where ctx.trace* go
   */
  constructor(fn, ctxFactory, logger) {
    this.fn = fn;
    this.logger = logger || null;
    this.futures = new Map();
    this.cmds = [];
    this.nextSeq = 0;
    this._coros = [];
    this._current = null;
    this.instance = '';
    this.executionId = 0;
    this.name = '';
    this.version = '';
    this.input = '';
    this.parentInstance = '';
    this.replaying = false;
    this.started = false;
    this.done = false;
    this.closed = false;
    this.cancelRequested = false;
    this.cancelReason = '';
    this.can = null;
    this.customStatus = null;
    this.kv = new Map();
    this.ctx = ctxFactory(this);
  }

  // ----------------------------------------------------------------
  // The protocol.

  /** Applies an activation's jobs; returns the commands the code issued. */
  activate(activation) {
    if (this.closed) throw new DuroxideError('driver is closed');
    if (activation.protocol !== 1) {
      throw new DuroxideError(`activation protocol ${activation.protocol}, this driver speaks 1`);
    }
    this.instance = activation.instance || '';
    this.executionId = activation.execution_id || 0;
    this.name = activation.name || '';
    this.version = activation.version || '';
    this.cmds = [];
    const jobs = activation.jobs;
    if (jobs) {
      for (let i = 0; i < jobs.length; i++) {
        const job = jobs[i];
        this.replaying = job.replaying === true;
        this._apply(job);
        this._run();
      }
    }
    this.replaying = false;
    const cmds = this.cmds;
    this.cmds = [];
    return cmds;
  }

  /** Releases the code: every unfinished generator is returned. */
  close() {
    if (this.closed) return;
    this.closed = true;
    this.done = true;
    for (const co of this._coros) {
      if (!co.done) {
        co.done = true;
        closeGenerator(co.gen);
      }
    }
    this._coros = [];
    this.futures.clear();
  }

  _apply(job) {
    const kind = job.kind;
    if (this.done && kind !== 'start') return;
    if (kind === 'start') {
      if (this.started) return;
      this.started = true;
      this.input = job.input || '';
      this.parentInstance = job.parent_instance || '';
      if (job.custom_status !== undefined && job.custom_status !== null) this.customStatus = job.custom_status;
      this.kv = new Map(Object.entries(job.kv || {}));
      this._coros.push(new Coroutine(this._main(this.input), true));
      return;
    }
    if (kind === 'cancel') {
      if (this.cancelRequested) return;
      this.cancelRequested = true;
      this.cancelReason = job.reason || '';
      for (const t of Array.from(this.futures.values())) {
        if (!t._done) t._fail(new CancelledError(this.cancelReason));
      }
      return;
    }
    const seq = job.seq || 0;
    const t = this.futures.get(seq);
    if (t === undefined) return;
    this.futures.delete(seq);
    if (t._done) return;
    const err = job.error;
    switch (kind) {
      case 'activity':
        if (err) t._fail(new ActivityFailedError(payload.displayMessage(err), { errorType: err.error_type, details: payload.camel(err), taskName: t._name }));
        else t._ok(payload.decode(job.result));
        break;
      case 'timer':
        t._ok(null);
        break;
      case 'event':
        t._ok(payload.decode(job.data));
        break;
      case 'sub_orchestration':
        if (err) t._fail(new SubOrchestrationFailedError(payload.displayMessage(err), { errorType: err.error_type, details: payload.camel(err), taskName: t._name }));
        else t._ok(payload.decode(job.result));
        break;
      case 'system_call':
        if (err) t._fail(new SystemCallFailedError(payload.displayMessage(err), { errorType: err.error_type, details: payload.camel(err), taskName: t._name }));
        else t._ok(systemValue(t._name, job.result || ''));
        break;
      default:
        // A job kind this driver does not know: leave the future alone.
        this.futures.set(seq, t);
    }
  }

  *_main(rawInput) {
    const result = this.fn(this.ctx, payload.decode(rawInput));
    if (isGenerator(result)) return yield* result;
    if (isThenable(result)) {
      if (typeof result.catch === 'function') result.catch(() => {}); // never an unhandled rejection
      throw new TypeError('orchestrations are generator functions (function*), not async functions: write `const r = yield ctx.scheduleActivity(...)`');
    }
    return result;
  }

  /** Runs gen as a coroutine of the orchestration; the task resolves with its return value (or error). */
  spawn(gen) {
    const t = new Task(this, COROUTINE, '');
    const co = new Coroutine(gen, false);
    co.task = t;
    t._co = co;
    this._coros.push(co);
    return t;
  }

  // ----------------------------------------------------------------
  // Stepping the code.

  _run() {
    for (;;) {
      let progressed = false;
      const coros = this._coros;
      for (let i = 0; i < coros.length; i++) {
        const co = coros[i];
        if (co.done) continue;
        if (co.started && !co.killed && (co.waiting === null || !co.waiting._done)) continue;
        this._step(co);
        progressed = true;
      }
      if (!progressed) break;
      this._coros = this._coros.filter((c) => !c.done);
    }
  }

  _step(co) {
    const prev = this._current;
    this._current = co;
    try {
      if (co.killed) {
        co.done = true;
        co.waiting = null;
        closeGenerator(co.gen);
        if (co.task !== null && !co.task._done) co.task._fail(new CancelledError('coroutine cancelled'));
        return;
      }
      let send;
      let thrown;
      let throwing = false;
      if (co.started) {
        const w = co.waiting;
        co.waiting = null;
        if (w !== null) {
          if (w._failed) {
            throwing = true;
            thrown = w._error;
          } else {
            send = w._value;
          }
        }
      }
      co.started = true;
      const gen = co.gen;
      for (;;) {
        let r;
        try {
          r = throwing ? gen.throw(thrown) : gen.next(send);
        } catch (e) {
          this._finish(co, undefined, e, true);
          return;
        }
        if (r.done) {
          this._finish(co, r.value, undefined, false);
          return;
        }
        const y = r.value;
        if (!(y instanceof Task)) {
          send = undefined;
          throwing = true;
          thrown = new TypeError(
            `orchestration code yielded ${describe(y)}; yield a task made by the context (ctx.scheduleActivity, ctx.scheduleTimer, ctx.all, ctx.race, …)`,
          );
          continue;
        }
        if (y._d !== this) {
          send = undefined;
          throwing = true;
          thrown = new DuroxideError('a task of another orchestration execution was yielded here');
          continue;
        }
        if (y._kind === CONTINUE_AS_NEW) {
          if (co.main) {
            closeGenerator(gen);
            this._finish(co, undefined, undefined, false);
            return;
          }
          co.waiting = y; // never resolves: the main code decides
          return;
        }
        if (y._done) {
          if (y._failed) {
            send = undefined;
            throwing = true;
            thrown = y._error;
          } else {
            send = y._value;
            throwing = false;
            thrown = undefined;
          }
          continue;
        }
        co.waiting = y;
        return;
      }
    } finally {
      this._current = prev;
    }
  }

  _finish(co, value, error, failed) {
    co.done = true;
    co.waiting = null;
    if (co.main) this._finishMain(value, error, failed);
    else if (co.task !== null) co.task._resolve(value, error, failed);
  }

  _finishMain(value, error, failed) {
    if (this.done) return;
    let cmd;
    if (this.can !== null) {
      cmd = { kind: 'continue_as_new', input: this.can.input };
      if (this.can.version) cmd.version = this.can.version;
    } else if (failed) {
      cmd = { kind: 'fail', error: errorDetails(error) };
    } else if (value instanceof Task) {
      cmd = {
        kind: 'fail',
        error: {
          category: 'application',
          kind: 'OrchestrationFailed',
          message: `the orchestration returned ${value} instead of its value: write \`return yield task\``,
          error_type: 'TypeError',
        },
      };
    } else {
      try {
        cmd = { kind: 'complete', output: payload.encode(value, "the orchestration's output") };
      } catch (e) {
        cmd = { kind: 'fail', error: { category: 'application', kind: 'OrchestrationFailed', message: messageOf(e, 'the codec'), error_type: 'PayloadError' } };
      }
    }
    this.cmds.push(cmd);
    this.done = true;
  }

  // ----------------------------------------------------------------
  // Used by the context.

  emit(cmd, task) {
    if (this.done || this.closed) {
      if (task && !task._done) {
        task._done = true;
        task._failed = true;
        task._error = new CancelledError('the orchestration already ended');
      }
      return;
    }
    if (task) {
      const seq = ++this.nextSeq;
      cmd.seq = seq;
      task._seq = seq;
      task._cmd = cmd;
      this.futures.set(seq, task);
    }
    this.cmds.push(cmd);
  }

  _drop(t, reason) {
    if (t._done || t._dropped) return;
    t._dropped = true;
    if (t._kind === ALL || t._kind === RACE) {
      for (const c of t._children || []) this._drop(c, reason);
    } else if (t._kind === COROUTINE) {
      const co = t._co;
      if (co !== null && !co.done) {
        co.killed = true;
        for (const o of co.owned) this._drop(o, reason);
      }
    } else if (t._seq && !this.done) {
      this.cmds.push({ kind: 'drop_future', seq: t._seq });
    }
    t._fail(new CancelledError(reason));
  }

  newTask(kind, name) {
    return new Task(this, kind, name);
  }

  doneTask(value) {
    const t = new Task(this, DONE, '');
    t._done = true;
    t._value = value;
    return t;
  }

  composite(kind, tasks) {
    const what = kind === ALL ? 'all' : 'race';
    for (const x of tasks) {
      if (!(x instanceof Task)) throw new TypeError(`ctx.${what} takes tasks made by the context, got ${describe(x)}`);
      if (x._d !== this) throw new DuroxideError('a task of another orchestration execution cannot be composed here');
    }
    const t = new Task(this, kind, '');
    t._children = tasks.slice();
    for (const ch of t._children) ch._addParent(t);
    if (kind === ALL) {
      if (tasks.length === 0) t._ok([]);
      else t._childResolved(null);
    } else {
      if (tasks.length === 0) throw new TypeError('ctx.race needs at least one task');
      for (const ch of t._children) {
        if (ch._done) {
          t._childResolved(ch);
          break;
        }
      }
    }
    return t;
  }
}

function systemValue(op, result) {
  if (op === 'utc_now') {
    const n = Number(result);
    return Number.isFinite(n) ? n : payload.decode(result);
  }
  if (op === 'get_kv') {
    let v;
    try {
      v = JSON.parse(result);
    } catch (_) {
      return result;
    }
    return v === null || typeof v === 'string' ? v : result;
  }
  return result;
}

module.exports = {
  Task,
  Driver,
  errorDetails,
  isGenerator,
  isThenable,
  kinds: { ACTIVITY, TIMER, EVENT, SUB_ORCHESTRATION, SYSTEM_CALL, ALL, RACE, COROUTINE, DONE, CONTINUE_AS_NEW },
};
