# The duroxide command (cmd/duroxide) and its MCP server (mcp/).

CLI_BIN := build/duroxide
# A virtual environment with the official Python MCP SDK, the third-party
# client the MCP server is tested against.
MCP_CLIENT_VENV := build/mcp-client-venv
MCP_CLIENT_REQS := 'mcp>=1.27,<2' 'pytest>=8'

## cli: build the duroxide command into build/duroxide
.PHONY: cli
cli:
	@mkdir -p build
	$(GO) build -o $(CLI_BIN) ./cmd/duroxide

$(MCP_CLIENT_VENV)/.installed: mk/cli.mk
	rm -rf $(MCP_CLIENT_VENV)
	python3 -m venv $(MCP_CLIENT_VENV)
	$(MCP_CLIENT_VENV)/bin/python -m pip install --quiet --disable-pip-version-check $(MCP_CLIENT_REQS)
	touch $@

## test-mcp-client: the MCP server against a real client (Python mcp SDK) over stdio and HTTP
.PHONY: test-mcp-client
test-mcp-client: cli $(MCP_CLIENT_VENV)/.installed
	DUROXIDE_BIN=$(abspath $(CLI_BIN)) PYTHONDONTWRITEBYTECODE=1 \
		$(MCP_CLIENT_VENV)/bin/python -m pytest -p no:cacheprovider -q mcp/pyclient

TEST_TARGETS += test-mcp-client
