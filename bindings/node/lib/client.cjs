'use strict';
// The client: start, signal, inspect and manage orchestration instances.
//
// A client talks only to the store, so any process sharing it can drive
// instances that runtimes elsewhere execute. Every call returns a Promise:
// the request runs on a Go goroutine (dx_client_call_async) and its result
// comes back through the client's pump thread, so the event loop never
// waits for Go. The pump keeps the process alive only while calls are
// pending.

const native = require('./native.cjs');
const payload = require('./payload.cjs');
const { ClosedError, DuroxideError, DuroxideTimeoutError, OrchestrationFailedError, Status, fromStatus } = require('./errors.cjs');
const { Provider } = require('./provider.cjs');

const POLL_TIMEOUT_MS = 250;
const PROTOCOL = native.PROTOCOL_VERSION;

/** An instance's status as the client sees it. */
function toStatus(d) {
  d = d || {};
  const raw = d.output === undefined ? null : d.output;
  return {
    instanceId: d.instance || '',
    /** "Running" | "Completed" | "Failed" | "NotFound" */
    status: d.status || 'NotFound',
    output: raw === null ? null : payload.decode(raw),
    rawOutput: raw,
    error: d.error_message === undefined ? null : d.error_message,
    errorDetails: d.error ? payload.camel(d.error) : null,
    customStatus: d.custom_status === undefined ? null : d.custom_status,
    customStatusVersion: d.custom_status_version || 0,
    orchestrationName: d.name || '',
    orchestrationVersion: d.version || '',
    executionId: d.execution_id || 0,
  };
}

function toInstanceInfo(d) {
  return {
    instanceId: d.instance_id,
    orchestrationName: d.name || '',
    orchestrationVersion: d.version || '',
    currentExecutionId: d.current_execution_id || 0,
    status: d.status || '',
    output: d.output || null,
    customStatus: d.custom_status === undefined ? null : d.custom_status,
    customStatusVersion: d.custom_status_version || 0,
    createdAt: d.created_at_ms || 0,
    updatedAt: d.updated_at_ms || 0,
    completedAt: d.completed_at_ms || null,
    parentInstanceId: d.parent_instance || null,
  };
}

function toEvent(e) {
  const out = payload.camel(e);
  if (out.error) out.error = payload.camel(out.error);
  return out;
}

function filterJson(f) {
  f = f || {};
  return {
    status: f.status || '',
    name: f.name || f.orchestrationName || '',
    instance_ids: f.instanceIds || null,
    created_after_ms: f.createdAfter || 0,
    created_before_ms: f.createdBefore || 0,
    completed_before_ms: f.completedBefore || 0,
    parent: f.parent || f.parentInstanceId || '',
    roots_only: !!f.rootsOnly,
    limit: f.limit || 0,
    offset: f.offset || 0,
  };
}

function pruneJson(o) {
  o = o || {};
  return { keep_last: o.keepLast || 0, completed_before_ms: o.completedBefore || 0 };
}

/** Drives instances through a provider: `new Client(provider)`. */
class Client {
  /** @param {Provider} provider */
  constructor(provider) {
    if (!(provider instanceof Provider)) throw new TypeError('new Client(provider) needs a SqliteProvider or PostgresProvider');
    this._h = native.load().clientNew(provider._handle());
    this.provider = provider;
    this._pending = new Map();
    this._poller = 0;
    this._pumpEnded = false;
    this._refed = false;
    this._closed = false;
    this._closing = null;
  }

  get closed() {
    return this._closed;
  }

  /** @internal */
  _call(op, args) {
    if (this._closed) return Promise.reject(new ClosedError('this client is closed'));
    const lib = native.load();
    let id;
    try {
      const req = { protocol: PROTOCOL, op };
      if (args) Object.assign(req, args);
      id = lib.clientCallAsync(this._h, JSON.stringify(req));
    } catch (e) {
      return Promise.reject(e);
    }
    if (this._poller === 0) this._startPump(lib);
    return new Promise((resolve, reject) => {
      this._pending.set(id, { resolve, reject });
      if (!this._refed && this._poller !== 0) {
        lib.pollerRef(this._poller);
        this._refed = true;
      }
    });
  }

  _startPump(lib) {
    this._poller = lib.pollerStart(this._h, true, POLL_TIMEOUT_MS, (kind, rc, data) => this._onPoll(kind, rc, data));
    this._refed = true; // a new pump keeps the loop alive until told otherwise
  }

  _onPoll(kind, rc, data) {
    try {
      if (kind === 0) {
        const items = JSON.parse(data);
        for (const it of items) {
          if (it.type !== 'client_result') continue;
          const p = this._pending.get(it.request_id);
          if (p === undefined) continue;
          this._pending.delete(it.request_id);
          if (it.status === Status.OK) p.resolve(it.result === undefined ? null : it.result);
          else p.reject(fromStatus(it.status, it.error));
        }
        if (this._pending.size === 0 && this._refed) {
          native.load().pollerUnref(this._poller);
          this._refed = false;
        }
      } else if (kind === 1) {
        this._pumpEnded = true;
        this._rejectPending(new ClosedError(`the client was closed before the call finished (${data || 'closed'})`));
      }
      // kind 2: a transient poll failure; the pump retries.
    } catch (e) {
      this._rejectPending(new DuroxideError(`duroxide client: cannot read a poll result: ${e && e.message}`));
    }
  }

  _rejectPending(err) {
    const ps = Array.from(this._pending.values());
    this._pending.clear();
    for (const p of ps) p.reject(err);
  }

  /**
   * Release the client: pending calls are cancelled (their promises reject
   * with ClosedError). Idempotent.
   */
  close() {
    if (this._closing !== null) return this._closing;
    this._closed = true;
    // Pending calls end now; their late results (cancellations) are ignored.
    this._rejectPending(new ClosedError('the client was closed before the call finished'));
    if (this._poller !== 0 && this._refed) {
      native.load().pollerUnref(this._poller);
      this._refed = false;
    }
    this._closing = native
      .load()
      .clientClose(this._h)
      .catch(() => {
        /* already released */
      })
      .then(() => {
        this._rejectPending(new ClosedError('the client was closed before the call finished'));
      });
    return this._closing;
  }

  // ------------------------------------------------------------ instances

  /** Start instance `instanceId` of orchestration `name`. Starting an existing id does nothing. */
  async startOrchestration(instanceId, name, input) {
    await this._call('start_orchestration', { instance: instanceId, name, input: payload.encode(input, 'the input') });
  }

  /** Start an instance pinned to an exact orchestration version. */
  async startOrchestrationVersioned(instanceId, name, input, version) {
    await this._call('start_orchestration', { instance: instanceId, name, version: version || '', input: payload.encode(input, 'the input') });
  }

  /** Raise external event `eventName`; it waits, buffered, for the code's next waitForEvent(eventName). */
  async raiseEvent(instanceId, eventName, data) {
    await this._call('raise_event', { instance: instanceId, name: eventName, data: payload.encode(data, 'the event data') });
  }

  /** Put a message on the instance's event queue (ctx.dequeueEvent). */
  async enqueueEvent(instanceId, queueName, data) {
    await this._call('enqueue_event', { instance: instanceId, name: queueName, data: payload.encode(data, 'the message') });
  }

  /** Cancel an instance (and its sub-orchestrations); it ends Failed with "canceled: <reason>". */
  async cancelInstance(instanceId, reason) {
    await this._call('cancel_instance', { instance: instanceId, reason: reason || 'cancelled by the client' });
  }

  /** The instance's status ({status: "NotFound"} when it does not exist). */
  async getStatus(instanceId) {
    return toStatus(await this._call('get_status', { instance: instanceId }));
  }

  /** Alias of getStatus. */
  getOrchestrationStatus(instanceId) {
    return this.getStatus(instanceId);
  }

  /**
   * Wait until the instance is Completed or Failed and resolve to its
   * status {status, output, error, customStatus, ...}; rejects with
   * DuroxideTimeoutError after `timeoutMs` (default 30 s).
   */
  async waitForOrchestration(instanceId, timeoutMs = 30000) {
    return toStatus(await this._call('wait_for_orchestration', { instance: instanceId, timeout_ms: Math.max(1, Math.floor(timeoutMs)) }));
  }

  /** Wait and resolve to the output; rejects with OrchestrationFailedError if the instance failed. */
  async waitForOrchestrationTyped(instanceId, timeoutMs = 30000) {
    const st = await this.waitForOrchestration(instanceId, timeoutMs);
    if (st.status === 'Failed') throw new OrchestrationFailedError(st.error || 'orchestration failed', st.errorDetails);
    return st.output;
  }

  /**
   * Wait until the custom status version exceeds `lastSeenVersion` or the
   * instance ends; resolves to the status, or null on timeout.
   * (pollIntervalMs is accepted for compatibility: the core wakes on changes.)
   */
  async waitForStatusChange(instanceId, lastSeenVersion = 0, pollIntervalMs = 0, timeoutMs = 30000) {
    void pollIntervalMs;
    try {
      const d = await this._call('wait_for_status_change', {
        instance: instanceId,
        last_seen_version: lastSeenVersion || 0,
        timeout_ms: Math.max(1, Math.floor(timeoutMs)),
      });
      return toStatus(d);
    } catch (e) {
      if (e instanceof DuroxideTimeoutError) return null;
      throw e;
    }
  }

  // ------------------------------------------------------------ KV

  /** A key of the instance's KV store (the raw string), or null. */
  async getValue(instanceId, key) {
    const d = await this._call('get_kv_value', { instance: instanceId, key });
    return d && d.found ? d.value : null;
  }

  getKvValue(instanceId, key) {
    return this.getValue(instanceId, key);
  }

  /** The value decoded with the payload rule (JSON, else the text), or null. */
  async getValueTyped(instanceId, key) {
    const v = await this.getValue(instanceId, key);
    return v === null ? null : payload.decode(v);
  }

  getKvValueTyped(instanceId, key) {
    return this.getValueTyped(instanceId, key);
  }

  /** Every key of the instance's KV store. */
  async getKvAllValues(instanceId) {
    return (await this._call('get_kv_all_values', { instance: instanceId })) || {};
  }

  /** Wait until the key exists and resolve to its value; rejects with DuroxideTimeoutError. */
  async waitForValue(instanceId, key, timeoutMs = 30000) {
    const d = await this._call('wait_for_kv_value', { instance: instanceId, key, timeout_ms: Math.max(1, Math.floor(timeoutMs)) });
    return d.value;
  }

  waitForKvValue(instanceId, key, timeoutMs) {
    return this.waitForValue(instanceId, key, timeoutMs);
  }

  // ------------------------------------------------------------ history

  /** The latest execution's events ({type, eventId, timestampMs, ...}). */
  async readHistory(instanceId) {
    return ((await this._call('read_history', { instance: instanceId })) || []).map(toEvent);
  }

  async readExecutionHistory(instanceId, executionId) {
    return ((await this._call('read_history', { instance: instanceId, execution_id: executionId })) || []).map(toEvent);
  }

  // ------------------------------------------------------------ management

  /** Instances matching a filter {status, name, instanceIds, createdAfter, createdBefore, completedBefore, parent, rootsOnly, limit, offset}. */
  async listInstances(filter) {
    return ((await this._call('list_instances', { filter: filterJson(filter) })) || []).map(toInstanceInfo);
  }

  async listAllInstances() {
    return (await this.listInstances()).map((i) => i.instanceId);
  }

  async listInstancesByStatus(status) {
    return (await this.listInstances({ status })).map((i) => i.instanceId);
  }

  async getInstanceInfo(instanceId) {
    return toInstanceInfo(await this._call('get_instance_info', { instance: instanceId }));
  }

  async listExecutions(instanceId) {
    return (await this._call('list_executions', { instance: instanceId })) || [];
  }

  async getExecutionInfo(instanceId, executionId) {
    const d = await this._call('get_execution_info', { instance: instanceId, execution_id: executionId });
    return {
      executionId: d.execution_id,
      status: d.status || '',
      output: d.output || null,
      startedAt: d.started_at_ms || 0,
      completedAt: d.completed_at_ms || null,
      eventCount: d.event_count || 0,
      pinnedVersion: d.pinned_version || null,
    };
  }

  /** The instance and its sub-orchestrations: {rootId, allIds, children, size}. */
  async getInstanceTree(instanceId) {
    const d = await this._call('get_instance_tree', { instance: instanceId });
    const allIds = d.all_ids || [];
    return { rootId: d.root_id, allIds, children: d.children || {}, size: allIds.length };
  }

  /** Delete a root instance and its sub-orchestrations (a running one only with force). */
  async deleteInstance(instanceId, force = false) {
    return payload.camel(await this._call('delete_instance', { instance: instanceId, force: !!force }));
  }

  async deleteInstanceBulk(filter) {
    return payload.camel(await this._call('delete_instance_bulk', { filter: filterJson(filter) }));
  }

  /** Delete old executions of an instance: options {keepLast, completedBefore}. */
  async pruneExecutions(instanceId, options) {
    return payload.camel(await this._call('prune_executions', { instance: instanceId, prune: pruneJson(options) }));
  }

  async pruneExecutionsBulk(filter, options) {
    return payload.camel(await this._call('prune_executions_bulk', { filter: filterJson(filter), prune: pruneJson(options) }));
  }

  async getSystemMetrics() {
    return payload.camel(await this._call('get_system_metrics'));
  }

  async getQueueDepths() {
    const d = (await this._call('get_queue_depths')) || {};
    return { orchestratorQueue: d.orchestrator_queue || 0, workerQueue: d.worker_queue || 0, timerQueue: d.delayed || 0 };
  }

  async listDeadLetters(limit = 100) {
    return ((await this._call('list_dead_letters', { limit })) || []).map(payload.camel);
  }
}

// The original SDK's *Typed variants: every call here encodes and decodes
// values with the payload rule already.
for (const m of ['startOrchestration', 'startOrchestrationVersioned', 'raiseEvent', 'enqueueEvent']) {
  Object.defineProperty(Client.prototype, m + 'Typed', { value: Client.prototype[m], writable: true, configurable: true });
}

module.exports = { Client, toStatus };
