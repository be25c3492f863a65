// Hello world on duroxide from Node.js: a generator orchestration calls an
// async activity twice.
//
//   node examples/node/hello.mjs [sqlite:hello.db]
//
// (`make node` builds the package's native addon first.)
import { Client, Runtime, SqliteProvider } from '../../bindings/node/index.mjs';

const provider = await SqliteProvider.open(process.argv[2] || 'sqlite::memory:');
const runtime = new Runtime(provider);

runtime.registerActivity('Hello', async (ctx, name) => `Hello, ${name}!`);

runtime.registerOrchestration('HelloWorld', function* (ctx, name) {
  const first = yield ctx.scheduleActivity('Hello', 'Go');
  ctx.traceInfo(`first greeting: ${first}`);
  return yield ctx.scheduleActivity('Hello', name);
});

await runtime.start();
const client = new Client(provider);
const id = `hello-${Date.now()}`;
await client.startOrchestration(id, 'HelloWorld', 'World');
const result = await client.waitForOrchestration(id, 10_000);
console.log(result.status, result.output); // Completed Hello, World!

await runtime.shutdown();
await client.close();
await provider.close();
