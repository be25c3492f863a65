// Node, Go and Python share one SQLite file: a Node orchestration calls
// activities a Go process and a Python process serve, and Go and Python
// orchestrations call activities this Node process serves. Payloads follow
// the shared codec every way.
//
// The Go process is bindings/python/tests/gohost (built with `go build`;
// DUROXIDE_GOHOST names a prebuilt one). The Python process runs
// test/fixtures/pyhost.py with the interpreter of .venv (`make python`;
// DUROXIDE_PYTHON names another). Outside CI a missing one skips its
// tests; in CI (CI=true) it fails them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { ActivityFailedError } from '../index.mjs';
import { CI, Env, HERE, REPO } from './helpers.mjs';

const T = { timeout: 120000 };
let work;
let gohost = null;
let gohostWhy = '';
let python = null;
let pythonWhy = '';

function which(cmd) {
  try {
    return execFileSync('bash', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || null;
  } catch (_) {
    return null;
  }
}

before(() => {
  work = mkdtempSync(path.join(tmpdir(), 'duroxide-node-xlang-'));
  if (process.env.DUROXIDE_GOHOST) {
    gohost = process.env.DUROXIDE_GOHOST;
  } else if (which('go')) {
    gohost = path.join(work, 'gohost');
    execFileSync('go', ['build', '-buildvcs=false', '-o', gohost, './bindings/python/tests/gohost'], { cwd: REPO, stdio: 'inherit' });
  } else {
    gohostWhy = 'the Go cross-language tests need Go to build their Go process (or DUROXIDE_GOHOST)';
  }
  const py = process.env.DUROXIDE_PYTHON || path.join(REPO, '.venv', 'bin', 'python');
  if (!existsSync(py)) {
    pythonWhy = `no Python with the duroxide package at ${py}: run \`make python\` (or set DUROXIDE_PYTHON)`;
  } else {
    try {
      execFileSync(py, ['-c', 'import duroxide'], { stdio: 'ignore' });
      python = py;
    } catch (_) {
      pythonWhy = `${py} cannot import duroxide: run \`make python\``;
    }
  }
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Skips (outside CI) or fails (in CI) when a helper is missing. */
function need(t, have, why) {
  if (have) return true;
  if (CI) throw new Error(why);
  t.skip(why);
  return false;
}

/** Starts a helper process and waits for its "ready" line. */
function startHelper(cmd, args) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    let buf = '';
    const onData = (d) => {
      buf += d;
      if (buf.includes('\n')) {
        p.stdout.off('data', onData);
        if (buf.split('\n')[0].trim() === 'ready') resolve(p);
        else {
          p.kill();
          reject(new Error(`${cmd} did not start: ${JSON.stringify(buf)}`));
        }
      }
    };
    p.stdout.on('data', onData);
    p.on('error', reject);
    p.on('exit', (code) => reject(new Error(`${cmd} exited with ${code} before it was ready`)));
  });
}

/** Stops a helper: it ends when its stdin closes. */
function stopHelper(p) {
  return new Promise((resolve, reject) => {
    if (p.exitCode !== null) return resolve(p.exitCode);
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error('helper did not stop'));
    }, 15000);
    p.removeAllListeners('exit');
    p.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(0);
      else reject(new Error(`helper exited with ${code}`));
    });
    p.stdin.end();
  });
}

async function shared(t, opts, fn) {
  const dir = mkdtempSync(path.join(work, 'db-'));
  const env = await Env.create(opts, path.join(dir, 'shared.db'));
  try {
    await fn(env);
  } finally {
    await env.close();
  }
}

test('a Node orchestration calls Go activities', T, async (t) => {
  if (!need(t, gohost, gohostWhy)) return;
  // This runtime serves activities too, but not the Go ones: it hands them
  // back with backoff until the Go process takes them.
  await shared(t, { maxAttempts: 50 }, async (env) => {
    const go = await startHelper(gohost, ['-store', 'sqlite:' + env.path, '-mode', 'activities']);
    try {
      env.rt.registerOrchestration('NodeCallsGo', function* (ctx, name) {
        const upper = yield ctx.scheduleActivity('GoUpper', name);
        const total = yield ctx.scheduleActivity('GoSum', { a: 2, b: 3 });
        let failure = 'none';
        try {
          yield ctx.scheduleActivity('GoFail', '');
        } catch (e) {
          if (!(e instanceof ActivityFailedError)) throw e;
          failure = `${e.errorType}:${e.message}`;
        }
        return { upper, sum: total.sum, failure };
      });
      await env.rt.start();
      const st = await env.run('node-calls-go', 'NodeCallsGo', 'gopher', 60000);
      assert.equal(st.status, 'Completed', st.error);
      assert.deepEqual(st.output, { upper: 'GOPHER (from Go)', sum: 5, failure: '*errors.errorString:go says no' });
    } finally {
      await stopHelper(go);
    }
  });
});

test('a Go orchestration calls Node activities', T, async (t) => {
  if (!need(t, gohost, gohostWhy)) return;
  // gohost's orchestration GoCallsPython calls PyGreet, PyDouble and PyFail:
  // any language may serve them, here Node does.
  await shared(t, { orchestrationConcurrency: -1 }, async (env) => {
    const go = await startHelper(gohost, ['-store', 'sqlite:' + env.path, '-mode', 'orchestrations']);
    try {
      env.rt.registerActivity('PyGreet', async (ctx, name) => `Hello from Node, ${name}`);
      env.rt.registerActivity('PyDouble', async (ctx, d) => ({ doubled: d.n * 2 }));
      env.rt.registerActivity('PyFail', async () => {
        throw new RangeError('nope');
      });
      await env.rt.start();
      const st = await env.run('go-calls-node', 'GoCallsPython', 'Gopher', 60000);
      assert.equal(st.status, 'Completed', st.error);
      assert.equal(st.output, 'go:Hello from Node, Gopher|42|RangeError:nope');
    } finally {
      await stopHelper(go);
    }
  });
});

test('a Node orchestration calls Python activities', T, async (t) => {
  if (!need(t, python, pythonWhy)) return;
  await shared(t, { maxAttempts: 50 }, async (env) => {
    const py = await startHelper(python, [path.join(HERE, 'fixtures', 'pyhost.py'), '--store', 'sqlite:' + env.path, '--mode', 'activities']);
    try {
      env.rt.registerOrchestration('NodeCallsPython', function* (ctx, name) {
        const upper = yield ctx.scheduleActivity('PyUpper', name);
        const total = yield ctx.scheduleActivity('PySum', { a: 20, b: 22 });
        let failure = 'none';
        try {
          yield ctx.scheduleActivity('PyFail', '');
        } catch (e) {
          failure = `${e.name}/${e.errorType}:${e.message}`;
        }
        return { upper, total, failure };
      });
      await env.rt.start();
      const st = await env.run('node-calls-py', 'NodeCallsPython', 'snake', 60000);
      assert.equal(st.status, 'Completed', st.error);
      assert.deepEqual(st.output, {
        upper: 'SNAKE (from Python)',
        total: { sum: 42, lang: 'python' },
        failure: 'ActivityFailedError/ValueError:python says no',
      });
    } finally {
      await stopHelper(py);
    }
  });
});

test('a Python orchestration calls Node activities', T, async (t) => {
  if (!need(t, python, pythonWhy)) return;
  await shared(t, { orchestrationConcurrency: -1 }, async (env) => {
    const py = await startHelper(python, [path.join(HERE, 'fixtures', 'pyhost.py'), '--store', 'sqlite:' + env.path, '--mode', 'orchestrations']);
    try {
      env.rt.registerActivity('NodeGreet', async (ctx, name) => `Hello from Node, ${name}`);
      env.rt.registerActivity('NodeDouble', async (ctx, d) => ({ doubled: d.n * 2 }));
      env.rt.registerActivity('NodeFail', async () => {
        throw new TypeError('node says no');
      });
      await env.rt.start();
      const st = await env.run('py-calls-node', 'PyCallsNode', 'Pythonista', 60000);
      assert.equal(st.status, 'Completed', st.error);
      assert.equal(st.output, 'py:Hello from Node, Pythonista|42|TypeError:node says no');
    } finally {
      await stopHelper(py);
    }
  });
});
