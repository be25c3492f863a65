// A typed orchestration on duroxide, as an ES module. `tsc --noEmit`
// checks it against the package's index.d.ts (resolved through its
// package.json "exports").
import {
  ActivityFailedError,
  Client,
  DuroxideTimeoutError,
  Runtime,
  SqliteProvider,
  type ActivityContext,
  type OrchestrationContext,
  type OrchestrationStatus,
  type RaceResult,
  type RetryPolicy,
} from 'duroxide';

interface Order {
  id: string;
  items: { sku: string; qty: number }[];
}

interface Receipt {
  orderId: string;
  charged: number;
  shipment: string;
}

const retry: RetryPolicy = { maxAttempts: 3, backoff: 'exponential', backoffMs: 50, timeoutMs: 5_000 };

function* checkout(ctx: OrchestrationContext, order: Order): Generator<any, Receipt, any> {
  ctx.setCustomStatus({ step: 'pricing' });
  const prices: number[] = yield ctx.all(order.items.map((i) => ctx.scheduleActivity<number>('Price', i)));
  const total = prices.reduce((a, b) => a + b, 0);

  const approval: RaceResult<string | null> = yield ctx.race(ctx.waitForEvent<string>('Approve'), ctx.scheduleTimer(60_000));
  if (approval.index === 1) throw new Error(`order ${order.id} was not approved in time`);

  let charged = 0;
  try {
    charged = yield ctx.scheduleActivityWithRetry<number>('Charge', { orderId: order.id, amount: total }, retry);
  } catch (e) {
    if (e instanceof ActivityFailedError) {
      ctx.traceWarn(`charge failed (${e.errorType}): ${e.message}`);
      return { orderId: order.id, charged: 0, shipment: 'none' };
    }
    throw e;
  }
  const shipment: string = yield ctx.scheduleSubOrchestration<string>('Ship', order);
  const now: number = yield ctx.utcNow();
  ctx.setValue('shippedAt', String(now));
  return { orderId: order.id, charged, shipment };
}

async function main(): Promise<void> {
  const provider = await SqliteProvider.open('sqlite::memory:');
  const runtime = new Runtime(provider, { workerConcurrency: 8, workerTagFilter: 'defaultOnly', logger: null });
  runtime.registerActivity('Price', async (_ctx: ActivityContext, item: { sku: string; qty: number }) => item.qty * 10);
  runtime.registerActivity('Charge', async (ctx, req: { orderId: string; amount: number }) => {
    if (ctx.isCancelled()) throw new Error('cancelled');
    return req.amount;
  });
  runtime.registerOrchestration('Ship', function* (ctx, order: Order) {
    yield ctx.scheduleTimer(10);
    return `parcel-${order.id}-${ctx.instanceId}`;
  });
  runtime.registerOrchestration('Checkout', checkout);
  runtime.registerOrchestrationVersioned('Checkout', '2.0.0', checkout);
  await runtime.start();

  const client = new Client(provider);
  await client.startOrchestration('order-1', 'Checkout', { id: '1', items: [{ sku: 'a', qty: 2 }] } satisfies Order);
  await client.raiseEvent('order-1', 'Approve', 'yes');
  const st: OrchestrationStatus<Receipt> = await client.waitForOrchestration<Receipt>('order-1', 10_000);
  if (st.status === 'Completed' && st.output) console.log(st.output.shipment, st.output.charged);
  const receipt: Receipt = await client.waitForOrchestrationTyped<Receipt>('order-1');
  console.log(receipt.orderId, st.customStatus, await client.getValue('order-1', 'shippedAt'));
  try {
    await client.waitForOrchestration('nobody', 10);
  } catch (e) {
    if (!(e instanceof DuroxideTimeoutError)) throw e;
  }
  const m = runtime.metricsSnapshot();
  if (m) console.log(m.turns, m.hostActivations);
  await runtime.shutdown(5_000);
  await client.close();
  await provider.close();
}

await main();
