// The scenarios marked [pg] in SCENARIOS.md (1 hello, 6 fan-out, 17
// continue-as-new), on PostgreSQL. The DSN comes from DUROXIDE_PG_DSN, else
// from build/pg.dsn, which `make pg-start`
// writes. Without one the test is skipped with the reason — except in CI
// (CI=true), where it fails; a DSN from the environment that does not
// connect fails too. Each run uses a schema of its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';

import { Client, PostgresProvider, Runtime } from '../index.mjs';
import { CI, FAST, REPO } from './helpers.mjs';

function dsn() {
  const env = process.env.DUROXIDE_PG_DSN;
  if (env) return { dsn: env.trim(), from: 'the environment' };
  const file = path.join(REPO, 'build', 'pg.dsn');
  if (existsSync(file)) return { dsn: readFileSync(file, 'utf8').trim(), from: file };
  return { dsn: null, from: '' };
}

test('[pg] hello, fan-out and continue-as-new on PostgreSQL', { timeout: 120000 }, async (t) => {
  const { dsn: url, from } = dsn();
  if (!url) {
    const why = 'no PostgreSQL: set DUROXIDE_PG_DSN or run `make pg-start` (it writes build/pg.dsn)';
    if (CI) throw new Error(why);
    t.skip(why);
    return;
  }
  const schema = 'node_' + randomBytes(6).toString('hex');
  let provider;
  try {
    provider = await PostgresProvider.connect(url, { schema });
  } catch (e) {
    // A DSN named explicitly must work; build/pg.dsn may be stale outside CI.
    if (CI || from === 'the environment') throw e;
    t.skip(`PostgreSQL from ${from} is not reachable: ${e.message}`);
    return;
  }
  const password = new URL(url).password;
  if (password) assert.ok(!provider.dsn.includes(':' + password + '@'), `the password shows in ${provider.dsn}`);
  const rt = new Runtime(provider, { ...FAST, logger: null });
  const client = new Client(provider);
  try {
    rt.registerActivity('Hello', async (ctx, name) => `Hello, ${name}!`);
    rt.registerOrchestration('HelloWorld', function* (ctx, name) {
      yield ctx.scheduleActivity('Hello', 'Go');
      return yield ctx.scheduleActivity('Hello', name);
    });
    rt.registerOrchestration('Gabbar', function* (ctx) {
      const out = yield ctx.all([ctx.scheduleActivity('Hello', 'Gabbar'), ctx.scheduleActivity('Hello', 'Samba')]);
      return out.join(',');
    });
    rt.registerOrchestration('Counter', function* (ctx, n) {
      if (Number(n) < 3) yield ctx.continueAsNew(String(Number(n) + 1));
      return `final:${n}`;
    });
    await rt.start();
    for (const [id, name, input, want] of [
      ['hello', 'HelloWorld', 'World', 'Hello, World!'],
      ['gabbar', 'Gabbar', '', 'Hello, Gabbar!,Hello, Samba!'],
      ['counter', 'Counter', '0', 'final:3'],
    ]) {
      await client.startOrchestration(id, name, input);
      const st = await client.waitForOrchestration(id, 60000);
      assert.deepEqual([st.status, st.output], ['Completed', want], `${id}: ${st.error}`);
    }
    assert.deepEqual(await client.listExecutions('counter'), [1, 2, 3, 4]);
  } finally {
    await rt.shutdown(5000);
    await client.close();
    await provider.close();
  }
});
