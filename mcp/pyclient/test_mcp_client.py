"""The duroxide MCP server against a real third-party client: the official
Python MCP SDK (PyPI package ``mcp``), over stdio and streamable HTTP.

Run by ``make test-mcp-client``, which builds ``build/duroxide``, installs the
SDK and pytest in a virtual environment and points DUROXIDE_BIN at the
binary. The store holds real instances: ``duroxide bench`` runs a runtime
that completes them.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import McpError

try:  # mcp >= 1.2x
    from mcp.client.streamable_http import streamable_http_client as _http_client

    def http_client(url: str, headers: dict[str, str]):
        return _http_client(url, http_client=httpx.AsyncClient(headers=headers, timeout=30))

except ImportError:  # older releases
    from mcp.client.streamable_http import streamablehttp_client as _http_client

    def http_client(url: str, headers: dict[str, str]):
        return _http_client(url, headers=headers)


READ_TOOLS = {"list_instances", "get_instance", "get_history", "get_instance_tree", "get_metrics"}
WRITE_TOOLS = {
    "start_orchestration",
    "raise_event",
    "enqueue_event",
    "cancel_instance",
    "delete_instance",
    "prune_executions",
}
TOKEN = "py-client-test-token-0123456789"
INSTANCES = 6


def duroxide_bin() -> str:
    path = os.environ.get("DUROXIDE_BIN", "")
    if not path or not Path(path).is_file():
        pytest.fail("DUROXIDE_BIN must name the built duroxide binary (run: make test-mcp-client)")
    return path


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite store with INSTANCES completed 3-activity-chain instances (py-0 ...)."""
    dsn = "sqlite:" + str(tmp_path_factory.mktemp("store") / "store.db")
    out = subprocess.run(
        [duroxide_bin(), "bench", "--store", dsn, "--count", str(INSTANCES), "--starters", "2", "--prefix", "py"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return dsn


def stdio_params(store: str, *extra: str) -> StdioServerParameters:
    env = dict(os.environ)
    env.pop("DUROXIDE_STORE", None)
    return StdioServerParameters(command=duroxide_bin(), args=["mcp", "--store", store, *extra], env=env)


@asynccontextmanager
async def stdio_session(store: str, *extra: str):
    async with stdio_client(stdio_params(store, *extra)) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            yield session


def structured(result) -> dict:
    assert not result.isError, result.content
    if result.structuredContent is not None:
        return result.structuredContent
    return json.loads(result.content[0].text)


async def tool_names(session: ClientSession) -> set[str]:
    return {t.name for t in (await session.list_tools()).tools}


async def refused(session: ClientSession, name: str, args: dict) -> str:
    """Calls a tool that must be refused; returns the refusal's text."""
    try:
        result = await session.call_tool(name, args)
    except McpError as e:
        return str(e)
    assert result.isError, f"{name} was not refused: {result.content}"
    return result.content[0].text


def test_stdio_read_only(store: str) -> None:
    async def main() -> None:
        async with stdio_session(store) as s:
            assert await tool_names(s) == READ_TOOLS

            listed = structured(await s.call_tool("list_instances", {}))
            ids = sorted(i["instance_id"] for i in listed["instances"])
            assert listed["count"] == INSTANCES, listed
            assert ids == sorted(f"py-{n}" for n in range(INSTANCES))
            assert all(i["status"] == "Completed" and i["name"] == "BenchChain3" for i in listed["instances"])

            page = structured(await s.call_tool("list_instances", {"limit": 4}))
            assert page["count"] == 4 and page["next_offset"] == 4

            inst = structured(await s.call_tool("get_instance", {"instance_id": "py-0"}))
            assert inst["status"] == "Completed" and inst["output"] == "axxx", inst
            assert inst["execution_id"] == 1 and inst["created_at"] and inst["completed_at"]

            hist = structured(await s.call_tool("get_history", {"instance_id": "py-0"}))
            kinds = [e["kind"] for e in hist["events"]]
            assert hist["total_events"] == 8 and kinds[0] == "OrchestrationStarted" and kinds[-1] == "OrchestrationCompleted"

            metrics = structured(await s.call_tool("get_metrics", {}))
            assert metrics["metrics"]["completed_instances"] == INSTANCES

            # Bad input is a tool error with a clear message, and the server lives on.
            missing = await s.call_tool("get_instance", {"instance_id": "no-such-instance"})
            assert missing.isError and 'instance "no-such-instance" not found' in missing.content[0].text
            too_long = await s.call_tool("get_instance", {"instance_id": "x" * 300})
            assert too_long.isError and "instance_id" in too_long.content[0].text

            # Read-only: a mutating tool is refused and changes nothing.
            msg = await refused(s, "start_orchestration", {"instance_id": "py-new", "name": "BenchChain3"})
            assert "unknown tool" in msg, msg
            msg = await refused(s, "delete_instance", {"instance_id": "py-0"})
            assert "unknown tool" in msg, msg
            again = structured(await s.call_tool("get_instance", {"instance_id": "py-0"}))
            assert again["status"] == "Completed"

            # Resources: an instance and its history.
            templates = {t.uriTemplate for t in (await s.list_resource_templates()).resourceTemplates}
            assert "duroxide://instances/{instance_id}" in templates
            res = await s.read_resource("duroxide://instances/py-1")
            assert json.loads(res.contents[0].text)["output"] == "axxx"
            res = await s.read_resource("duroxide://instances/py-1/history")
            assert len(json.loads(res.contents[0].text)["events"]) == 8

    asyncio.run(main())


def test_stdio_allow_write(store: str, tmp_path: Path) -> None:
    # A copy, so the other tests keep their instances.
    copy = tmp_path / "store.db"
    subprocess.run(["cp", store.removeprefix("sqlite:"), str(copy)], check=True)

    async def main() -> None:
        async with stdio_session("sqlite:" + str(copy), "--allow-write") as s:
            assert await tool_names(s) == READ_TOOLS | WRITE_TOOLS
            started = structured(
                await s.call_tool("start_orchestration", {"instance_id": "py-new", "name": "BenchChain3", "input": "z"})
            )
            assert started["accepted"] is True, started
            exists = structured(await s.call_tool("start_orchestration", {"instance_id": "py-0", "name": "BenchChain3"}))
            assert exists["already_exists"] is True and exists["accepted"] is False
            deleted = structured(await s.call_tool("delete_instance", {"instance_id": "py-0"}))
            assert deleted["deleted"]["instances_deleted"] == 1
            metrics = structured(await s.call_tool("get_metrics", {}))
            assert metrics["queue_depths"]["orchestrator_queue"] == 1  # the queued start
            assert metrics["metrics"]["total_instances"] == INSTANCES - 1

    asyncio.run(main())


class Server:
    """``duroxide mcp --http 127.0.0.1:0 ...`` in a child process."""

    def __init__(self, *args: str) -> None:
        env = dict(os.environ)
        env.pop("DUROXIDE_MCP_TOKEN", None)
        self.proc = subprocess.Popen(
            [duroxide_bin(), "mcp", "--http", "127.0.0.1:0", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.stderr: list[str] = []
        found = threading.Event()
        self.url = ""

        def read() -> None:
            assert self.proc.stderr is not None
            for line in self.proc.stderr:
                self.stderr.append(line)
                m = re.search(r"http://127\.0\.0\.1:\d+/mcp", line)
                if m and not self.url:
                    self.url = m.group(0)
                    found.set()

        threading.Thread(target=read, daemon=True).start()
        if not found.wait(30):
            self.close()
            pytest.fail("duroxide mcp did not print its address: " + "".join(self.stderr))

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def http_server(store: str):
    server = Server("--store", store, "--token", TOKEN)
    yield server
    server.close()
    assert server.proc.returncode == 0, "".join(server.stderr)


async def http_session_tools(url: str, headers: dict[str, str]) -> tuple[set[str], dict]:
    async with http_client(url, headers) as streams:
        read, write = streams[0], streams[1]
        async with ClientSession(read, write) as s:
            await s.initialize()
            names = await tool_names(s)
            inst = structured(await s.call_tool("get_instance", {"instance_id": "py-2"}))
            return names, inst


def test_http_with_token(http_server: Server) -> None:
    names, inst = asyncio.run(http_session_tools(http_server.url, {"Authorization": "Bearer " + TOKEN}))
    assert names == READ_TOOLS
    assert inst["status"] == "Completed" and inst["output"] == "axxx"


def test_http_without_token_is_refused(http_server: Server) -> None:
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    accept = {"Accept": "application/json, text/event-stream"}
    for headers in ({}, {"Authorization": "Bearer wrong-token-wrong-token"}):
        r = httpx.post(http_server.url, json=init, headers={**accept, **headers}, timeout=10)
        assert r.status_code == 401, (r.status_code, r.text)
        assert r.headers["WWW-Authenticate"].startswith("Bearer")

    # The SDK client without the token cannot open a session either.
    async def attempt() -> None:
        with pytest.raises(BaseException) as info:
            await asyncio.wait_for(http_session_tools(http_server.url, {}), 20)
        assert "401 Unauthorized" in repr(info.value), repr(info.value)

    asyncio.run(attempt())


@pytest.mark.parametrize(
    "args, message",
    [
        (["--http", "0.0.0.0:0"], "non-loopback"),
        (["--http", "127.0.0.1:0"], "needs a bearer token"),
        (["--http", "192.0.2.1:0", "--no-auth"], "only allowed on a loopback address"),
    ],
)
def test_http_unsafe_configurations_refused(store: str, args: list[str], message: str) -> None:
    env = dict(os.environ)
    env.pop("DUROXIDE_MCP_TOKEN", None)
    out = subprocess.run([duroxide_bin(), "mcp", "--store", store, *args], capture_output=True, text=True, timeout=30, env=env)
    assert out.returncode == 2, (out.returncode, out.stderr)
    assert message in out.stderr, out.stderr


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-v"]))
