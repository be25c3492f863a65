/**
 * duroxide — durable task orchestration for Node.js on the duroxide Go core.
 *
 * Orchestrations are generator functions that `yield` tasks; activities are
 * async functions. Every decision is recorded in an append-only history and
 * the code is replayed after any restart, so it continues where it left off.
 *
 * Inputs, outputs, event data and KV values travel as strings with one rule
 * shared by every duroxide language: a string is stored as is, any other
 * value as JSON text; reading tries JSON first and falls back to the text.
 */

// ───────────────────────────── errors ─────────────────────────────

/** Base class of every error duroxide throws on purpose. */
export declare class DuroxideError extends Error {
  constructor(message: string, options?: { code?: number | null; cause?: unknown });
  /** The C ABI status code when the error came from the core, else null. */
  readonly code: number | null;
}
/** The native addon (or the core library next to it) could not be loaded; the message lists every path tried. */
export declare class LibraryNotFoundError extends DuroxideError {}
/** The core does not know the handle (it was closed). */
export declare class HandleError extends DuroxideError {}
/** The provider, runtime or client is closed or shut down. */
export declare class ClosedError extends DuroxideError {}
/** A handle was used in a forked child process. */
export declare class ForkedProcessError extends DuroxideError {}
/** An argument was empty, too long, or invalid. */
export declare class InvalidArgumentError extends DuroxideError {}
/** The instance does not exist. */
export declare class NotFoundError extends DuroxideError {}
/** A wait ended before its condition held. */
export declare class DuroxideTimeoutError extends DuroxideError {}
/** The name (and version) is already registered. */
export declare class AlreadyRegisteredError extends DuroxideError {}
/** A value cannot be encoded as a payload (JSON). */
export declare class PayloadError extends DuroxideError {}

/** The recorded form of an error (camelCase). */
export interface ErrorDetails {
  category: 'application' | 'infrastructure' | 'configuration' | 'poison' | string;
  kind?: string;
  message?: string;
  errorType?: string;
  reason?: string;
  [key: string]: unknown;
}

/** A task the orchestration yielded failed; thrown at the `yield`. */
export declare class TaskFailedError extends DuroxideError {
  constructor(message: string, options?: { errorType?: string | null; details?: ErrorDetails | null; taskName?: string });
  /** The type name of the original error ("TypeError", "ValueError", "*errors.errorString", …). */
  readonly errorType: string | null;
  /** The recorded error. */
  readonly details: ErrorDetails;
  /** The activity, sub-orchestration or system call that failed. */
  readonly taskName: string;
  /** The recorded error kind: ActivityFailed, Unregistered, Cancelled, … */
  readonly kind: string | null;
}
/** An activity failed: it threw, or the engine failed it (e.g. registered nowhere). */
export declare class ActivityFailedError extends TaskFailedError {
  readonly activityName: string;
}
/** An attempt of an activity scheduled with a retry policy timed out. */
export declare class ActivityTimeoutError extends ActivityFailedError {}
/** A sub-orchestration ended Failed. */
export declare class SubOrchestrationFailedError extends TaskFailedError {}
/** A system call (newGuid, utcNow, a KV read of another instance) failed. */
export declare class SystemCallFailedError extends TaskFailedError {}
/** The task was cancelled: the instance is being cancelled, or the task lost a race. */
export declare class CancelledError extends TaskFailedError {
  constructor(reason: string);
  readonly reason: string;
}
/** The instance ended Failed (Client.waitForOrchestrationTyped). */
export declare class OrchestrationFailedError extends DuroxideError {
  constructor(message: string, details?: ErrorDetails | null);
  readonly details: ErrorDetails;
  readonly errorType: string | null;
}

// ───────────────────────────── providers ─────────────────────────────

/** An open store. */
export declare class Provider {
  protected constructor();
  /** The store's DSN (a PostgreSQL password is masked). */
  readonly dsn: string;
  readonly closed: boolean;
  /** Close the store (after its runtimes and clients). Idempotent. */
  close(): Promise<void>;
}

export interface SqliteOptions {
  /** "FULL" (default) or "NORMAL". */
  synchronous?: 'FULL' | 'NORMAL';
  busyTimeoutMs?: number;
  pollIntervalMs?: number;
  watchIntervalMs?: number;
  deadLetterAfterMs?: number;
  readConnections?: number;
}

/** The embedded SQLite store: a file, or a private in-memory database. */
export declare class SqliteProvider extends Provider {
  /** Open (creating if needed) "sqlite:./app.db", "sqlite::memory:" or a plain file path. */
  static open(path: string, options?: SqliteOptions): Promise<SqliteProvider>;
  /** A private in-memory database (gone when closed). */
  static inMemory(options?: SqliteOptions): Promise<SqliteProvider>;
}

export interface PostgresOptions {
  /** The schema of the store (default "public"); created and migrated if needed. */
  schema?: string;
  maxConns?: number;
  pollIntervalMs?: number;
}

/** The PostgreSQL store, for many runtimes on many machines. */
export declare class PostgresProvider extends Provider {
  /** Connect to "postgres://user:pass@host:5432/db". */
  static connect(databaseUrl: string, options?: PostgresOptions): Promise<PostgresProvider>;
  static connectWithSchema(databaseUrl: string, schema: string): Promise<PostgresProvider>;
}

// ───────────────────────────── orchestrations ─────────────────────────────

/**
 * A durable task: the pending result of something the orchestration
 * scheduled. `yield` it in an orchestration to get its value of type T.
 */
export declare class Task<T = any> {
  private constructor();
  /** Phantom member carrying the value type. */
  readonly __value?: T;
  /** True once the task has a value or an error. */
  isCompleted(): boolean;
  /** For a race: the index of the winning branch (-1 before it is decided). */
  readonly winner: number;
  /** Abandon the task: its work is cancelled as if it lost a race. */
  cancel(): void;
  /** Route an activity to workers serving `tag` (chain right after scheduleActivity). */
  withTag(tag: string): this;
}
/** The original SDK's name for a task. */
export type ScheduledTask<T = any> = Task<T>;

/** What `yield ctx.race(...)` gives: which branch won, and its value. */
export interface RaceResult<T = any> {
  index: number;
  value: T;
}

/** How scheduleActivityWithRetry retries. */
export interface RetryPolicy {
  /** Attempts in all (default 3). */
  maxAttempts?: number;
  /** Wait between attempts (default "exponential"); a number is a fixed delay in ms. */
  backoff?: 'none' | 'fixed' | 'linear' | 'exponential' | number;
  /** The fixed delay, or the base of linear/exponential backoff (default 100). */
  backoffMs?: number;
  /** Growth of exponential backoff (default 2). */
  multiplier?: number;
  /** Cap on one wait (default 30000). */
  maxBackoffMs?: number;
  /** Bound on each attempt: a timed-out attempt ends the retries with ActivityTimeoutError. */
  timeoutMs?: number;
  /** Bound on all attempts together. */
  totalTimeoutMs?: number;
}

export interface ActivityOptions {
  /** Run on the worker holding this session (every activity of a session runs on one worker). */
  sessionId?: string;
  /** Route to workers serving this tag. */
  tag?: string;
}

/** An orchestration: a generator function that yields tasks. */
export type OrchestrationFunction<TInput = any, TOutput = any> = (
  ctx: OrchestrationContext,
  input: TInput,
) => Generator<Task<any>, TOutput, any> | TOutput;

/** An activity: a function, usually async, with side effects. */
export type ActivityFunction<TInput = any, TOutput = any> = (ctx: ActivityContext, input: TInput) => Promise<TOutput> | TOutput;

/** The orchestration's handle on the engine. Schedule methods return tasks: `yield` them. */
export declare class OrchestrationContext {
  private constructor();
  readonly instanceId: string;
  readonly executionId: number;
  readonly orchestrationName: string;
  readonly orchestrationVersion: string;
  readonly parentInstanceId: string | null;
  /** True while the code re-runs decisions already in history. */
  readonly isReplaying: boolean;
  /** True once the instance is being cancelled (pending tasks failed with CancelledError). */
  readonly isCancelRequested: boolean;

  scheduleActivity<T = any>(name: string, input?: unknown, options?: ActivityOptions): Task<T>;
  scheduleActivityOnSession<T = any>(name: string, input: unknown, sessionId: string): Task<T>;
  scheduleActivityWithTag<T = any>(name: string, input: unknown, tag: string): Task<T>;
  scheduleActivityWithRetry<T = any>(name: string, input: unknown, retry?: RetryPolicy, options?: ActivityOptions): Task<T>;
  scheduleActivityWithRetryOnSession<T = any>(name: string, input: unknown, retry: RetryPolicy, sessionId: string): Task<T>;
  /** A durable timer (it survives restarts). */
  scheduleTimer(delayMs: number): Task<null>;
  createTimer(delayMs: number): Task<null>;
  /** The data of the next external event `name`; events raised before the wait are kept. */
  waitForEvent<T = any>(name: string): Task<T>;
  /** The next message of an event queue; unconsumed messages survive continue-as-new. */
  dequeueEvent<T = any>(queueName: string): Task<T>;
  scheduleSubOrchestration<T = any>(name: string, input?: unknown): Task<T>;
  scheduleSubOrchestrationWithId<T = any>(name: string, instanceId: string, input?: unknown): Task<T>;
  scheduleSubOrchestrationVersioned<T = any>(name: string, version: string | null, input?: unknown): Task<T>;
  scheduleSubOrchestrationVersionedWithId<T = any>(name: string, version: string | null, instanceId: string, input?: unknown): Task<T>;
  /** Start an independent orchestration (fire and forget); the task is already complete. */
  startOrchestration(name: string, instanceId: string, input?: unknown): Task<null>;
  startOrchestrationVersioned(name: string, version: string | null, instanceId: string, input?: unknown): Task<null>;
  /** End this execution and start the next with `input`: `yield ctx.continueAsNew(next)`. */
  continueAsNew(input?: unknown): Task<never>;
  continueAsNewVersioned(input: unknown, version: string | null): Task<never>;

  /** Every task's value, in order; the first failure (in argument order) is thrown. */
  all<T extends readonly Task<any>[]>(tasks: [...T]): Task<{ [K in keyof T]: T[K] extends Task<infer V> ? V : never }>;
  all<T = any>(tasks: Iterable<Task<T>>): Task<T[]>;
  /** The first task to complete; the others are cancelled. Nestable. */
  race<T = any>(...tasks: Task<T>[]): Task<RaceResult<T>>;
  race<T = any>(tasks: Task<T>[]): Task<RaceResult<T>>;
  select<T = any>(...tasks: Task<T>[]): Task<RaceResult<T>>;

  /** A UUID recorded in history (the same on replay). */
  newGuid(): Task<string>;
  /** Milliseconds since the epoch, recorded in history (the same on replay). */
  utcNow(): Task<number>;
  /** A key of another instance's KV store (recorded in history), or null. */
  getValueFromInstance(instanceId: string, key: string): Task<string | null>;
  getKvValueFromInstance(instanceId: string, key: string): Task<string | null>;

  /** Publish a status clients can read (a non-string is stored as JSON). No yield. */
  setCustomStatus(status: unknown): void;
  resetCustomStatus(): void;
  getCustomStatus(): string | null;

  /** This instance's KV store (strings; a non-string value is stored as JSON). No yield. */
  setValue(key: string, value: unknown): void;
  getValue(key: string): string | null;
  getValueTyped<T = any>(key: string): T | null;
  clearValue(key: string): void;
  clearAllValues(): void;
  getKvAllValues(): Record<string, string>;
  getKvAllKeys(): string[];
  getKvLength(): number;
  setKvValue(key: string, value: unknown): void;
  getKvValue(key: string): string | null;
  clearKvValue(key: string): void;
  clearAllKvValues(): void;

  /** Log once per decision (dropped while replaying). */
  traceInfo(message: unknown): void;
  traceWarn(message: unknown): void;
  traceError(message: unknown): void;
  traceDebug(message: unknown): void;

  // The original SDK's *Typed variants (every call is typed already).
  scheduleActivityTyped<T = any>(name: string, input?: unknown, options?: ActivityOptions): Task<T>;
  scheduleActivityOnSessionTyped<T = any>(name: string, input: unknown, sessionId: string): Task<T>;
  scheduleActivityWithRetryTyped<T = any>(name: string, input: unknown, retry?: RetryPolicy): Task<T>;
  scheduleActivityWithRetryOnSessionTyped<T = any>(name: string, input: unknown, retry: RetryPolicy, sessionId: string): Task<T>;
  scheduleSubOrchestrationTyped<T = any>(name: string, input?: unknown): Task<T>;
  scheduleSubOrchestrationWithIdTyped<T = any>(name: string, instanceId: string, input?: unknown): Task<T>;
  scheduleSubOrchestrationVersionedTyped<T = any>(name: string, version: string | null, input?: unknown): Task<T>;
  waitForEventTyped<T = any>(name: string): Task<T>;
  dequeueEventTyped<T = any>(queueName: string): Task<T>;
  startOrchestrationTyped(name: string, instanceId: string, input?: unknown): Task<null>;
  startOrchestrationVersionedTyped(name: string, version: string | null, instanceId: string, input?: unknown): Task<null>;
  continueAsNewTyped(input?: unknown): Task<never>;
  allTyped<T = any>(tasks: Iterable<Task<T>>): Task<T[]>;
  raceTyped<T = any>(...tasks: Task<T>[]): Task<RaceResult<T>>;
}

/** What an activity receives with its input. */
export declare class ActivityContext {
  private constructor();
  readonly instanceId: string;
  readonly executionId: number;
  readonly orchestrationName: string;
  readonly orchestrationVersion: string;
  readonly activityName: string;
  readonly activityId: number;
  /** 1 for the first delivery; more when the activity is redelivered. */
  readonly attempt: number;
  readonly workerId: string;
  readonly sessionId: string | null;
  readonly tag: string | null;
  /** True once the activity is cancelled (lost a race, orchestration ended, runtime shutting down). */
  isCancelled(): boolean;
  /** Aborted when the activity is cancelled: `fetch(url, { signal: ctx.signal })`. */
  readonly signal: AbortSignal;
  /** Resolves true once cancelled, or false after `timeoutMs` (never, if omitted). */
  waitCancelled(timeoutMs?: number): Promise<boolean>;
  /** A client on the runtime's store. */
  getClient(): Client;
  traceInfo(message: unknown): void;
  traceWarn(message: unknown): void;
  traceError(message: unknown): void;
  traceDebug(message: unknown): void;
}

// ───────────────────────────── runtime ─────────────────────────────

/** Where orchestration and activity traces (and runtime errors) go. */
export interface Logger {
  debug?(message: string, fields?: Record<string, unknown>): void;
  info?(message: string, fields?: Record<string, unknown>): void;
  warn?(message: string, fields?: Record<string, unknown>): void;
  error?(message: string, fields?: Record<string, unknown>): void;
}

/** Which activity tags this runtime's workers serve. */
export type TagFilter =
  | 'defaultOnly'
  | 'any'
  | 'none'
  | { tags: string[] }
  | { defaultAnd: string[] }
  | { mode: 'default_only' | 'tags' | 'default_and' | 'any' | 'none'; tags?: string[] };

/** Runtime settings; every field is optional and defaults to the core's value. */
export interface RuntimeOptions {
  /** Turns run at once (default 4; negative: this runtime runs no orchestrations). */
  orchestrationConcurrency?: number;
  /** Activities run at once (default 16; negative: no activities). */
  workerConcurrency?: number;
  /** Deliveries before a message is poison, and retries of an unregistered orchestration or activity (default 10). */
  maxAttempts?: number;
  pollTimeoutMs?: number;
  orchestratorLockTimeoutMs?: number;
  /** Worker lock timeout; renewals every half of it also notice cancellations. */
  workerLockTimeoutMs?: number;
  /** First delay before an unregistered orchestration/activity is retried (default 1000, doubling). */
  unregisteredBackoffMs?: number;
  unregisteredBackoffMaxMs?: number;
  /** How long a cancelled activity may still finish (default 10000). */
  activityCancellationGraceMs?: number;
  /** Warm drivers kept between turns (negative: none, every turn replays). */
  instanceCacheSize?: number;
  workerNodeId?: string;
  sessionLockTimeoutMs?: number;
  workerTagFilter?: TagFilter | 'tags' | 'defaultAnd';
  /** Tags for workerTagFilter "tags" / "defaultAnd" (the original SDK's form). */
  workerTagFilterTags?: string[];
  /** How long a turn waits for this process to answer (default 60000). */
  activationTimeoutMs?: number;
  /** Core logs on stderr: "debug" … "error" (default none). */
  logLevel?: 'debug' | 'info' | 'warn' | 'error' | 'none';
  /** Size limits (names, payloads, history, KV …) in the core's units. */
  limits?: Record<string, number>;
  /** Traces and runtime errors (default: the console; null: nowhere). */
  logger?: Logger | null;
  /** Accepted for compatibility with the original SDK; ignored. */
  dispatcherPollIntervalMs?: number;
  logFormat?: string;
  serviceName?: string;
  serviceVersion?: string;
  maxSessionsPerRuntime?: number;
  sessionIdleTimeoutMs?: number;
}

/** The core's counters plus the host round-trip figures (camelCase). */
export interface MetricsSnapshot {
  turns: number;
  warmTurns: number;
  replayedJobs: number;
  orchestrationsStarted: number;
  orchestrationsCompleted: number;
  orchestrationsFailed: number;
  continuedAsNew: number;
  activitiesSucceeded: number;
  activitiesFailed: number;
  activitiesCancelled: number;
  abandoned: number;
  poisonMessages: number;
  providerErrors: number;
  cachedInstances: number;
  hostActivations: number;
  hostActivationNsTotal: number;
  hostActivityTasks: number;
  hostDriversOpen: number;
  hostActivitiesOpen: number;
  jsActivations: number;
  jsActivationNsTotal: number;
  [key: string]: number;
}

/** Runs orchestrations and activities registered in this process. */
export declare class Runtime {
  constructor(provider: Provider, options?: RuntimeOptions);
  readonly provider: Provider;
  readonly isRunning: boolean;
  registerActivity<TIn = any, TOut = any>(name: string, fn: ActivityFunction<TIn, TOut>): this;
  /** Register as version 1.0.0. */
  registerOrchestration<TIn = any, TOut = any>(name: string, fn: OrchestrationFunction<TIn, TOut>): this;
  registerOrchestrationVersioned<TIn = any, TOut = any>(name: string, version: string, fn: OrchestrationFunction<TIn, TOut>): this;
  registerActivityTyped<TIn = any, TOut = any>(name: string, fn: ActivityFunction<TIn, TOut>): this;
  registerOrchestrationTyped<TIn = any, TOut = any>(name: string, fn: OrchestrationFunction<TIn, TOut>): this;
  registerOrchestrationVersionedTyped<TIn = any, TOut = any>(name: string, version: string, fn: OrchestrationFunction<TIn, TOut>): this;
  /** Start; resolves once the runtime runs. A running runtime keeps the process alive. */
  start(): Promise<void>;
  /** Drain in-flight work for up to timeoutMs (default 10000), cancel the rest, release everything. Idempotent. */
  shutdown(timeoutMs?: number): Promise<void>;
  close(timeoutMs?: number): Promise<void>;
  /** Counters, or null once shut down. */
  metricsSnapshot(): MetricsSnapshot | null;
}

// ───────────────────────────── client ─────────────────────────────

export type OrchestrationState = 'Running' | 'Completed' | 'Failed' | 'NotFound';

/** An instance's status. */
export interface OrchestrationStatus<T = any> {
  instanceId: string;
  status: OrchestrationState;
  /** The decoded output when Completed, else null. */
  output: T | null;
  /** The output as stored. */
  rawOutput: string | null;
  /** The failure message when Failed. */
  error: string | null;
  errorDetails: ErrorDetails | null;
  customStatus: string | null;
  customStatusVersion: number;
  orchestrationName: string;
  orchestrationVersion: string;
  executionId: number;
}

export interface HistoryEvent {
  type: string;
  eventId: number;
  sourceEventId?: number;
  instanceId: string;
  executionId: number;
  timestampMs: number;
  name?: string;
  input?: string;
  result?: string;
  output?: string;
  data?: string;
  error?: ErrorDetails;
  [key: string]: unknown;
}

export interface InstanceInfo {
  instanceId: string;
  orchestrationName: string;
  orchestrationVersion: string;
  currentExecutionId: number;
  status: string;
  output: string | null;
  customStatus: string | null;
  customStatusVersion: number;
  createdAt: number;
  updatedAt: number;
  completedAt: number | null;
  parentInstanceId: string | null;
}

export interface ExecutionInfo {
  executionId: number;
  status: string;
  output: string | null;
  startedAt: number;
  completedAt: number | null;
  eventCount: number;
  pinnedVersion: string | null;
}

export interface InstanceTree {
  rootId: string;
  allIds: string[];
  children: Record<string, string[]>;
  size: number;
}

/** Selects instances; unset fields do not filter. Times in ms since the epoch. */
export interface InstanceFilter {
  status?: string;
  name?: string;
  instanceIds?: string[];
  createdAfter?: number;
  createdBefore?: number;
  completedBefore?: number;
  parent?: string;
  rootsOnly?: boolean;
  limit?: number;
  offset?: number;
}

export interface PruneOptions {
  /** Executions to keep (0 or 1: only the current one). */
  keepLast?: number;
  /** Only executions that ended before this time (ms). */
  completedBefore?: number;
}

export interface DeleteInstanceResult {
  instancesDeleted: number;
  executionsDeleted: number;
  eventsDeleted: number;
  queueMessagesDeleted: number;
}

export interface PruneResult {
  instancesProcessed: number;
  executionsDeleted: number;
  eventsDeleted: number;
}

export interface SystemMetrics {
  totalInstances: number;
  totalExecutions: number;
  runningInstances: number;
  completedInstances: number;
  failedInstances: number;
  totalEvents: number;
  deadLetters: number;
  continuedAsNewInstances: number;
}

export interface QueueDepths {
  orchestratorQueue: number;
  workerQueue: number;
  timerQueue: number;
}

/** Starts, signals, inspects and manages instances through a provider. Every call returns a Promise. */
export declare class Client {
  constructor(provider: Provider);
  readonly provider: Provider;
  readonly closed: boolean;
  /** Release the client; pending calls reject with ClosedError. Idempotent. */
  close(): Promise<void>;

  startOrchestration(instanceId: string, name: string, input?: unknown): Promise<void>;
  startOrchestrationVersioned(instanceId: string, name: string, input: unknown, version: string): Promise<void>;
  raiseEvent(instanceId: string, eventName: string, data?: unknown): Promise<void>;
  enqueueEvent(instanceId: string, queueName: string, data?: unknown): Promise<void>;
  cancelInstance(instanceId: string, reason?: string): Promise<void>;
  getStatus<T = any>(instanceId: string): Promise<OrchestrationStatus<T>>;
  getOrchestrationStatus<T = any>(instanceId: string): Promise<OrchestrationStatus<T>>;
  /** Resolves when the instance is Completed or Failed; rejects with DuroxideTimeoutError after timeoutMs (default 30000). */
  waitForOrchestration<T = any>(instanceId: string, timeoutMs?: number): Promise<OrchestrationStatus<T>>;
  /** The output, or a rejection with OrchestrationFailedError. */
  waitForOrchestrationTyped<T = any>(instanceId: string, timeoutMs?: number): Promise<T>;
  /** The status once its custom status version exceeds lastSeenVersion (or it ends); null on timeout. */
  waitForStatusChange<T = any>(instanceId: string, lastSeenVersion?: number, pollIntervalMs?: number, timeoutMs?: number): Promise<OrchestrationStatus<T> | null>;

  getValue(instanceId: string, key: string): Promise<string | null>;
  getKvValue(instanceId: string, key: string): Promise<string | null>;
  getValueTyped<T = any>(instanceId: string, key: string): Promise<T | null>;
  getKvValueTyped<T = any>(instanceId: string, key: string): Promise<T | null>;
  getKvAllValues(instanceId: string): Promise<Record<string, string>>;
  waitForValue(instanceId: string, key: string, timeoutMs?: number): Promise<string>;
  waitForKvValue(instanceId: string, key: string, timeoutMs?: number): Promise<string>;

  readHistory(instanceId: string): Promise<HistoryEvent[]>;
  readExecutionHistory(instanceId: string, executionId: number): Promise<HistoryEvent[]>;
  listInstances(filter?: InstanceFilter): Promise<InstanceInfo[]>;
  listAllInstances(): Promise<string[]>;
  listInstancesByStatus(status: string): Promise<string[]>;
  getInstanceInfo(instanceId: string): Promise<InstanceInfo>;
  listExecutions(instanceId: string): Promise<number[]>;
  getExecutionInfo(instanceId: string, executionId: number): Promise<ExecutionInfo>;
  getInstanceTree(instanceId: string): Promise<InstanceTree>;
  deleteInstance(instanceId: string, force?: boolean): Promise<DeleteInstanceResult>;
  deleteInstanceBulk(filter?: InstanceFilter): Promise<DeleteInstanceResult>;
  pruneExecutions(instanceId: string, options?: PruneOptions): Promise<PruneResult>;
  pruneExecutionsBulk(filter?: InstanceFilter, options?: PruneOptions): Promise<PruneResult>;
  getSystemMetrics(): Promise<SystemMetrics>;
  getQueueDepths(): Promise<QueueDepths>;
  listDeadLetters(limit?: number): Promise<Record<string, unknown>[]>;

  startOrchestrationTyped(instanceId: string, name: string, input?: unknown): Promise<void>;
  startOrchestrationVersionedTyped(instanceId: string, name: string, input: unknown, version: string): Promise<void>;
  raiseEventTyped(instanceId: string, eventName: string, data?: unknown): Promise<void>;
  enqueueEventTyped(instanceId: string, queueName: string, data?: unknown): Promise<void>;
}

// ───────────────────────────── misc ─────────────────────────────

/** Encode a value with the payload rule (a string as is, anything else as JSON). */
export declare function encodePayload(value: unknown, what?: string): string;
/** Decode a payload (JSON if it parses, else the text; "" is null). */
export declare function decodePayload(payload: string | null | undefined): any;
/** The retry policy with every default filled in. */
export declare function normalizeRetryPolicy(policy?: RetryPolicy | null): Required<Omit<RetryPolicy, 'backoff'>> & { backoff: string };
/** The default logger (the console; debug dropped). */
export declare const consoleLogger: Logger;
/** Versions of the loaded core. */
export declare function nativeVersion(): { abi: number; protocol: number; engine: string; go: string };
/** The path of the loaded addon. */
export declare function addonPath(): string;
export declare const ABI_VERSION: number;
export declare const PROTOCOL_VERSION: number;
export declare const version: string;
