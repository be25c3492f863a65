'use strict';
// The error classes of duroxide. Everything the package throws or rejects
// with on purpose derives from DuroxideError.

/** Status codes of the C ABI (duroxide.h). */
const Status = Object.freeze({
  OK: 0,
  ERR: 1,
  HANDLE: 2,
  INVALID: 3,
  NOT_FOUND: 4,
  TIMEOUT: 5,
  PANIC: 6,
  FORKED: 7,
  CLOSED: 8,
  EXISTS: 9,
});

class DuroxideError extends Error {
  /**
   * @param {string} message
   * @param {{code?: number|null, cause?: unknown}} [options]
   */
  constructor(message, options) {
    super(message, options && options.cause !== undefined ? { cause: options.cause } : undefined);
    /** The C ABI status code when the error came from the core, else null. */
    this.code = options && options.code != null ? options.code : null;
  }
}

function named(cls, name) {
  Object.defineProperty(cls.prototype, 'name', { value: name, writable: true, configurable: true, enumerable: false });
  return cls;
}

named(DuroxideError, 'DuroxideError');

/** The native addon (or the core library next to it) could not be loaded. */
class LibraryNotFoundError extends DuroxideError {}
named(LibraryNotFoundError, 'LibraryNotFoundError');

/** The core does not know the handle (it was closed). */
class HandleError extends DuroxideError {}
named(HandleError, 'HandleError');

/** The provider, runtime or client is closed or shut down. */
class ClosedError extends DuroxideError {}
named(ClosedError, 'ClosedError');

/** A handle was used in a forked child process (the Go runtime does not survive fork()). */
class ForkedProcessError extends DuroxideError {}
named(ForkedProcessError, 'ForkedProcessError');

/** An argument was empty, too long, or not valid. */
class InvalidArgumentError extends DuroxideError {}
named(InvalidArgumentError, 'InvalidArgumentError');

/** The instance (or driver, or task) does not exist. */
class NotFoundError extends DuroxideError {}
named(NotFoundError, 'NotFoundError');

/** A wait ended before its condition held. */
class DuroxideTimeoutError extends DuroxideError {}
named(DuroxideTimeoutError, 'DuroxideTimeoutError');

/** The name (and version) is already registered. */
class AlreadyRegisteredError extends DuroxideError {}
named(AlreadyRegisteredError, 'AlreadyRegisteredError');

/** A value cannot be encoded as a payload (JSON). */
class PayloadError extends DuroxideError {}
named(PayloadError, 'PayloadError');

/**
 * A task the orchestration yielded failed. Thrown inside the generator at
 * the `yield`, so `try { yield ctx.scheduleActivity(...) } catch (e) {}`
 * handles it.
 */
class TaskFailedError extends DuroxideError {
  /**
   * @param {string} message
   * @param {{errorType?: string|null, details?: object|null, taskName?: string}} [options]
   */
  constructor(message, options = {}) {
    super(message);
    /** The type name of the original error: "TypeError" for a JS activity, "ValueError" for Python, "*errors.errorString" for Go. */
    this.errorType = options.errorType || null;
    /** The recorded error: {category, kind, message, errorType, ...}. */
    this.details = options.details ? { ...options.details } : {};
    /** The activity, sub-orchestration or system call that failed. */
    this.taskName = options.taskName || '';
  }

  /** The recorded error kind: ActivityFailed, Unregistered, Cancelled, Panicked, ... */
  get kind() {
    return this.details.kind || null;
  }
}
named(TaskFailedError, 'TaskFailedError');

/** An activity failed: it threw, or the engine failed it (e.g. not registered anywhere). */
class ActivityFailedError extends TaskFailedError {
  get activityName() {
    return this.taskName;
  }
}
named(ActivityFailedError, 'ActivityFailedError');

/** An attempt of an activity scheduled with a retry policy outlived its timeout. */
class ActivityTimeoutError extends ActivityFailedError {}
named(ActivityTimeoutError, 'ActivityTimeoutError');

/** A sub-orchestration ended Failed. */
class SubOrchestrationFailedError extends TaskFailedError {}
named(SubOrchestrationFailedError, 'SubOrchestrationFailedError');

/** A system call (newGuid, utcNow, a KV read of another instance) failed. */
class SystemCallFailedError extends TaskFailedError {}
named(SystemCallFailedError, 'SystemCallFailedError');

/** The task was cancelled: the instance is being cancelled, or the task lost a race. */
class CancelledError extends TaskFailedError {
  /** @param {string} reason */
  constructor(reason) {
    super('canceled: ' + reason, { details: { category: 'application', kind: 'Cancelled', reason } });
    this.reason = reason;
  }
}
named(CancelledError, 'CancelledError');

/** An orchestration instance ended Failed (Client.waitForOrchestrationTyped). */
class OrchestrationFailedError extends DuroxideError {
  /** @param {string} message @param {object|null} [details] */
  constructor(message, details) {
    super(message);
    this.details = details ? { ...details } : {};
    this.errorType = this.details.errorType || null;
  }
}
named(OrchestrationFailedError, 'OrchestrationFailedError');

const byCode = {
  [Status.HANDLE]: HandleError,
  [Status.INVALID]: InvalidArgumentError,
  [Status.NOT_FOUND]: NotFoundError,
  [Status.TIMEOUT]: DuroxideTimeoutError,
  [Status.FORKED]: ForkedProcessError,
  [Status.CLOSED]: ClosedError,
  [Status.EXISTS]: AlreadyRegisteredError,
};

/** The error for a failed core call. */
function fromStatus(code, message) {
  const Cls = byCode[code] || DuroxideError;
  return new Cls(message || `duroxide: status ${code}`, { code });
}

/** A readable description of any thrown value. */
function describe(v) {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'function') return `function ${v.name || '(anonymous)'}`;
  if (typeof v === 'symbol' || typeof v === 'bigint') return String(v) + (typeof v === 'bigint' ? 'n' : '');
  if (typeof v === 'object') {
    try {
      const s = JSON.stringify(v);
      if (s !== undefined) return s.length > 200 ? s.slice(0, 200) + '…' : s;
    } catch (_) {
      /* fall through */
    }
    return Object.prototype.toString.call(v);
  }
  return String(v);
}

/** The type name of an error: its name, or its class when the name is the generic "Error". */
function errorTypeOf(e) {
  if (e instanceof Error) {
    const n = typeof e.name === 'string' && e.name ? e.name : '';
    if (n && n !== 'Error') return n;
    const c = e.constructor && e.constructor.name;
    return c || n || 'Error';
  }
  return typeof e;
}

/** The message of an error, never empty. Non-Error values are described. */
function messageOf(e, what) {
  if (e instanceof Error) {
    let m = '';
    try {
      m = typeof e.message === 'string' ? e.message : String(e.message);
    } catch (_) {
      m = '';
    }
    return m || errorTypeOf(e);
  }
  return `${what} threw a non-Error value: ${describe(e)}`;
}

module.exports = {
  Status,
  DuroxideError,
  LibraryNotFoundError,
  HandleError,
  ClosedError,
  ForkedProcessError,
  InvalidArgumentError,
  NotFoundError,
  DuroxideTimeoutError,
  AlreadyRegisteredError,
  PayloadError,
  TaskFailedError,
  ActivityFailedError,
  ActivityTimeoutError,
  SubOrchestrationFailedError,
  SystemCallFailedError,
  CancelledError,
  OrchestrationFailedError,
  fromStatus,
  describe,
  errorTypeOf,
  messageOf,
};
