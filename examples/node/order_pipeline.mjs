// An order pipeline on duroxide from Node.js: fan-out/fan-in, a retried
// activity, a human approval raced against a durable timeout, custom
// status, a sub-orchestration and an activity that honours cancellation.
//
//   node examples/node/order_pipeline.mjs [--store sqlite:orders.db] [--id order-1]
//
// Stop it half-way (Ctrl-C) and run it again with the same --store and --id:
// the orchestration continues where it left off, because every decision is
// in the store's history.
import { parseArgs } from 'node:util';
import { ActivityFailedError, Client, ClosedError, Runtime, SqliteProvider } from '../../bindings/node/index.mjs';

const { values: args } = parseArgs({
  options: {
    store: { type: 'string', default: 'sqlite::memory:' },
    id: { type: 'string', default: `order-${Date.now()}` },
  },
});

function build(rt) {
  rt.registerActivity('ReserveItem', async (ctx, item) => ({ item, reserved: true }));

  const charged = new Set();
  rt.registerActivity('ChargeCard', async (ctx, order) => {
    if (!charged.has(order.id)) {
      charged.add(order.id);
      throw new Error('payment service unavailable'); // the first try fails: the retry policy handles it
    }
    return `charge-${order.id}-${order.prices.reduce((a, b) => a + b, 0)}`;
  });

  rt.registerActivity('SendEmail', async (ctx, text) => {
    // A long activity should stop when it is cancelled: ctx.signal aborts then.
    await new Promise((resolve) => setTimeout(resolve, 10));
    if (ctx.isCancelled()) throw new Error('cancelled');
    ctx.traceInfo(`email: ${text}`);
    return 'sent';
  });

  rt.registerOrchestration('Notify', function* (ctx, text) {
    return yield ctx.scheduleActivity('SendEmail', text);
  });

  rt.registerOrchestration('ProcessOrder', function* (ctx, order) {
    ctx.setCustomStatus('reserving');
    const reservations = yield ctx.all(order.items.map((item) => ctx.scheduleActivity('ReserveItem', item)));

    ctx.setCustomStatus('charging');
    let receipt;
    try {
      receipt = yield ctx.scheduleActivityWithRetry('ChargeCard', order, { maxAttempts: 3, backoff: 'exponential', backoffMs: 50 });
    } catch (e) {
      if (e instanceof ActivityFailedError) return { status: 'payment_failed', error: e.message };
      throw e;
    }

    ctx.setCustomStatus('awaiting approval');
    const decision = yield ctx.race(ctx.waitForEvent('Approval'), ctx.scheduleTimer(order.approvalTimeoutMs));
    const approved = decision.index === 0 && decision.value === 'yes';

    yield ctx.scheduleSubOrchestration('Notify', `order ${order.id}: ${approved ? 'approved' : 'not approved'}`);
    ctx.setCustomStatus('done');
    return { status: approved ? 'approved' : 'rejected', receipt, items: reservations.length };
  });
}

const provider = await SqliteProvider.open(args.store);
const client = new Client(provider);
const runtime = new Runtime(provider, { workerConcurrency: 8 });
build(runtime);
await runtime.start();

let interrupted = false;
process.once('SIGINT', async () => {
  interrupted = true;
  console.log('\ninterrupted: shutting down (run again with the same --store and --id to continue)');
  await runtime.shutdown(5_000);
  await client.close(); // the pending wait below ends with ClosedError
  await provider.close();
});

try {
  const order = { id: args.id, items: ['book', 'lamp', 'tea'], prices: [12, 30, 4], approvalTimeoutMs: 5_000 };
  await client.startOrchestration(args.id, 'ProcessOrder', order); // starting an existing id does nothing
  // Somebody approves the order a little later.
  setTimeout(() => client.raiseEvent(args.id, 'Approval', 'yes').catch(() => {}), 500);
  const result = await client.waitForOrchestration(args.id, 60_000);
  console.log(`instance ${args.id} ${result.status}:`, result.output ?? result.error);
  console.log(`custom status: ${result.customStatus}; history: ${(await client.readHistory(args.id)).length} events`);
  await runtime.shutdown();
  await client.close();
  await provider.close();
} catch (e) {
  if (!(interrupted && e instanceof ClosedError)) throw e;
}
