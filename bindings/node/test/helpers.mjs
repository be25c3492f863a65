// Fixtures for the duroxide Node tests: a runtime, a client and a SQLite
// file store per test, and condition waits (never fixed sleeps).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';
import assert from 'node:assert/strict';

import { Client, Runtime, SqliteProvider } from '../index.mjs';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const PKG = path.resolve(HERE, '..');
export const REPO = path.resolve(PKG, '..', '..');
export const CI = process.env.CI === 'true' || process.env.CI === '1';

// Short retries and polls so failure paths finish quickly (as the Go and
// Python suites do).
export const FAST = { maxAttempts: 4, unregisteredBackoffMs: 20, unregisteredBackoffMaxMs: 100, pollTimeoutMs: 1000 };

// A rejected promise must never go unhandled: every test file checks it.
const unhandled = [];
process.on('unhandledRejection', (reason) => {
  unhandled.push(reason);
});
after(() => {
  assert.deepEqual(unhandled.map(String), [], 'unhandled promise rejections');
});

/** Captures log lines: logger.lines holds [level, message, fields]. */
export function captureLogger() {
  const lines = [];
  const l = { lines };
  for (const level of ['debug', 'info', 'warn', 'error']) l[level] = (msg, fields) => lines.push([level, msg, fields]);
  return l;
}

export class Env {
  constructor(dbPath, provider, opts) {
    this.path = dbPath;
    this.provider = provider;
    this.opts = { ...FAST, logger: null, ...opts };
    this.rt = new Runtime(provider, this.opts);
    this.client = new Client(provider);
  }

  /** A store in a fresh temporary directory. */
  static async create(opts = {}, dbPath = null) {
    let dir = null;
    if (dbPath === null) {
      dir = mkdtempSync(path.join(tmpdir(), 'duroxide-node-'));
      dbPath = path.join(dir, 'duroxide.db');
    }
    const provider = await SqliteProvider.open(dbPath);
    const e = new Env(dbPath, provider, opts);
    e.dir = dir;
    return e;
  }

  /** Shut the runtime down and make a fresh one (new registrations). */
  async newRuntime(opts = {}) {
    await this.rt.shutdown(5000);
    this.rt = new Runtime(this.provider, { ...this.opts, ...opts });
    return this.rt;
  }

  async run(instance, name, input, timeoutMs = 30000) {
    await this.client.startOrchestration(instance, name, input);
    return this.client.waitForOrchestration(instance, timeoutMs);
  }

  async completed(instance, name, input, want) {
    const st = await this.run(instance, name, input);
    assert.equal(st.status, 'Completed', `${instance}: ${st.status} ${st.error}`);
    assert.deepEqual(st.output, want);
    return st;
  }

  async historyHas(instance, type) {
    try {
      return (await this.client.readHistory(instance)).some((e) => e.type === type);
    } catch (_) {
      return false;
    }
  }

  async close() {
    await this.rt.shutdown(5000);
    await this.client.close();
    await this.provider.close();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Runs fn(env) with a fresh Env, closing it afterwards. */
export async function withEnv(opts, fn) {
  if (typeof opts === 'function') {
    fn = opts;
    opts = {};
  }
  const env = await Env.create(opts);
  try {
    return await fn(env);
  } finally {
    await env.close();
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits until cond() (sync or async) holds, with backoff; fails after timeoutMs. */
export async function waitFor(what, cond, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  let delay = 2;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(delay);
    delay = Math.min(delay * 2, 50);
  }
}

/** A promise with its resolve function exposed. */
export function deferred() {
  let resolve;
  const promise = new Promise((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

export async function withTimeout(promise, ms, what) {
  let timer;
  try {
    return await Promise.race([promise, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
