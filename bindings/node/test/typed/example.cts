// The same package from CommonJS: require() gets the same API and types.
import duroxide = require('duroxide');

const { Runtime, SqliteProvider, Client } = duroxide;

async function main(): Promise<string | null> {
  const provider = await SqliteProvider.inMemory();
  const rt = new Runtime(provider, { logger: null });
  rt.registerActivity('Hello', async (_ctx, name: string) => `Hello, ${name}!`);
  rt.registerOrchestration('HelloWorld', function* (ctx: duroxide.OrchestrationContext, name: string) {
    const first: string = yield ctx.scheduleActivity<string>('Hello', 'Go');
    ctx.traceInfo(first);
    return (yield ctx.scheduleActivity<string>('Hello', name)) as string;
  });
  await rt.start();
  const client = new Client(provider);
  await client.startOrchestration('hello-1', 'HelloWorld', 'World');
  const st = await client.waitForOrchestration<string>('hello-1');
  await rt.shutdown();
  await client.close();
  await provider.close();
  return st.output;
}

export = main;
