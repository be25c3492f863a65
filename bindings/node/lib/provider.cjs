'use strict';
// Stores (providers): where histories and queues live.

const native = require('./native.cjs');
const { ClosedError } = require('./errors.cjs');
const { snake } = require('./payload.cjs');

function optionsJson(options) {
  if (options === undefined || options === null) return null;
  if (typeof options !== 'object') throw new TypeError(`provider options must be an object, got ${typeof options}`);
  return JSON.stringify(snake(options));
}

/** An open store. Use SqliteProvider or PostgresProvider. */
class Provider {
  /** @internal */
  constructor(handle, dsn) {
    this._h = handle;
    this._closed = false;
    this._closing = null;
    /** The store's DSN (a PostgreSQL password is masked). */
    this.dsn = dsn;
  }

  /** @internal */
  _handle() {
    if (this._closed) throw new ClosedError(`this provider (${this.dsn}) is closed`);
    return this._h;
  }

  get closed() {
    return this._closed;
  }

  /**
   * Close the store. Shut its runtimes down and close its clients first (a
   * store in use refuses to close, and stays open). Idempotent.
   */
  close() {
    if (this._closed) return Promise.resolve();
    if (this._closing === null) {
      this._closing = native
        .load()
        .storeClose(this._h)
        .then(
          () => {
            this._closed = true;
          },
          (e) => {
            this._closing = null;
            throw e;
          },
        );
    }
    return this._closing;
  }

  toString() {
    return `${this.constructor.name}(${this.dsn}${this._closed ? ', closed' : ''})`;
  }
}

/** The embedded SQLite store: a file, or a private in-memory database. */
class SqliteProvider extends Provider {
  /**
   * Open (creating if needed) a database: "sqlite:./app.db",
   * "sqlite::memory:" or a plain file path. options: {synchronous: "FULL" |
   * "NORMAL", busyTimeoutMs, pollIntervalMs, watchIntervalMs,
   * deadLetterAfterMs, readConnections}.
   * @returns {Promise<SqliteProvider>}
   */
  static async open(path, options) {
    if (typeof path !== 'string' || path === '') throw new TypeError('SqliteProvider.open needs a path or a "sqlite:" DSN');
    const dsn = path.startsWith('sqlite:') || path === ':memory:' ? path : 'sqlite:' + path;
    const h = await native.load().storeOpen(dsn, optionsJson(options));
    return new SqliteProvider(h, dsn);
  }

  /** A private in-memory database (gone when closed). */
  static inMemory(options) {
    return SqliteProvider.open('sqlite::memory:', options);
  }
}

/** The PostgreSQL store, for many runtimes on many machines. */
class PostgresProvider extends Provider {
  /**
   * Connect to PostgreSQL ("postgres://user:pass@host:5432/db"), creating
   * and migrating the store's schema (default "public") if needed.
   * options: {schema, maxConns, pollIntervalMs}.
   * @returns {Promise<PostgresProvider>}
   */
  static async connect(databaseUrl, options) {
    if (typeof databaseUrl !== 'string' || !/^postgres(ql)?:\/\//.test(databaseUrl)) {
      throw new TypeError('PostgresProvider.connect needs a "postgres://" URL');
    }
    const h = await native.load().storeOpen(databaseUrl, optionsJson(options));
    return new PostgresProvider(h, redact(databaseUrl));
  }

  /** Connect using a schema of its own (many stores can share one database). */
  static connectWithSchema(databaseUrl, schema) {
    return PostgresProvider.connect(databaseUrl, { schema });
  }
}

function redact(url) {
  return url.replace(/^([a-z]+:\/\/[^:/@]+):[^@]*@/i, '$1:xxxxx@');
}

module.exports = { Provider, SqliteProvider, PostgresProvider };
