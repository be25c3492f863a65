'use strict';
// The public API of the duroxide package (CommonJS); index.mjs re-exports
// the same objects for ES modules, so both share one implementation.

const native = require('./native.cjs');
const errors = require('./errors.cjs');
const payload = require('./payload.cjs');
const { Task } = require('./driver.cjs');
const { OrchestrationContext, ActivityContext, normalizeRetry } = require('./context.cjs');
const { Provider, SqliteProvider, PostgresProvider } = require('./provider.cjs');
const { Client } = require('./client.cjs');
const { Runtime, consoleLogger } = require('./runtime.cjs');

module.exports = {
  SqliteProvider,
  PostgresProvider,
  Provider,
  Runtime,
  Client,
  OrchestrationContext,
  ActivityContext,
  Task,
  DuroxideError: errors.DuroxideError,
  LibraryNotFoundError: errors.LibraryNotFoundError,
  HandleError: errors.HandleError,
  ClosedError: errors.ClosedError,
  ForkedProcessError: errors.ForkedProcessError,
  InvalidArgumentError: errors.InvalidArgumentError,
  NotFoundError: errors.NotFoundError,
  DuroxideTimeoutError: errors.DuroxideTimeoutError,
  AlreadyRegisteredError: errors.AlreadyRegisteredError,
  PayloadError: errors.PayloadError,
  TaskFailedError: errors.TaskFailedError,
  ActivityFailedError: errors.ActivityFailedError,
  ActivityTimeoutError: errors.ActivityTimeoutError,
  SubOrchestrationFailedError: errors.SubOrchestrationFailedError,
  SystemCallFailedError: errors.SystemCallFailedError,
  CancelledError: errors.CancelledError,
  OrchestrationFailedError: errors.OrchestrationFailedError,
  encodePayload: payload.encode,
  decodePayload: payload.decode,
  normalizeRetryPolicy: normalizeRetry,
  consoleLogger,
  nativeVersion: native.nativeVersion,
  addonPath: native.addonPath,
  ABI_VERSION: native.ABI_VERSION,
  PROTOCOL_VERSION: native.PROTOCOL_VERSION,
  version: require('../package.json').version,
};
