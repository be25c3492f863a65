// ES module entry point of the duroxide package: the same objects as the
// CommonJS entry point (one implementation, no dual-package hazard).
import duroxide from './lib/duroxide.cjs';

export const {
  SqliteProvider,
  PostgresProvider,
  Provider,
  Runtime,
  Client,
  OrchestrationContext,
  ActivityContext,
  Task,
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
  encodePayload,
  decodePayload,
  normalizeRetryPolicy,
  consoleLogger,
  nativeVersion,
  addonPath,
  ABI_VERSION,
  PROTOCOL_VERSION,
  version,
} = duroxide;

export default duroxide;
