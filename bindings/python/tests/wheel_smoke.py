"""Runs one orchestration from an installed wheel (see wheel_smoke.sh)."""

import os
import shutil
import sys
import tempfile

assert shutil.which("go") is None, "go must not be on PATH for this check"

import duroxide  # noqa: E402
from duroxide import Client, Runtime, SqliteProvider  # noqa: E402

venv = os.path.realpath(sys.argv[1])
lib = os.path.realpath(duroxide.library_path())
assert lib.startswith(venv + os.sep), f"loaded {lib}, want the copy inside {venv}"

work = tempfile.mkdtemp()
provider = SqliteProvider.open(os.path.join(work, "smoke.db"))
rt = Runtime(provider)


@rt.register_activity("Hello")
def hello(ctx, name):
    return f"Hello, {name}!"


@rt.register_orchestration("HelloWorld")
def hello_world(ctx, name):
    yield ctx.schedule_activity("Hello", "Go")
    return (yield ctx.schedule_activity("Hello", name))


rt.start()
client = Client(provider)
client.start_orchestration("smoke-1", "HelloWorld", "Wheel")
result = client.wait_for_orchestration("smoke-1", 30000)
rt.shutdown()
client.close()
provider.close()
assert result.status == "Completed" and result.output == "Hello, Wheel!", result
print(f"wheel_smoke: {result.output} (library {lib}, Go absent from PATH)")
