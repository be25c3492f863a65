"""The smallest duroxide program in Python.

    python examples/python/hello.py [--store sqlite:hello.db]
"""

import argparse

from duroxide import Client, Runtime, SqliteProvider

ap = argparse.ArgumentParser()
ap.add_argument("--store", default="sqlite::memory:")
args = ap.parse_args()

provider = SqliteProvider.open(args.store)
rt = Runtime(provider)


@rt.register_activity("Hello")
def hello(ctx, name):
    return f"Hello, {name}!"


@rt.register_orchestration("HelloWorld")
def hello_world(ctx, name):
    first = yield ctx.schedule_activity("Hello", "Go")
    ctx.trace_info(f"first greeting: {first}")
    return (yield ctx.schedule_activity("Hello", name))


rt.start()
client = Client(provider)
client.start_orchestration("hello-1", "HelloWorld", "World")
print(client.wait_for_orchestration("hello-1", 30_000).output)  # Hello, World!
rt.shutdown()
client.close()
provider.close()
