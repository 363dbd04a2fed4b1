"""The official `mcp` Python SDK against a running `sp`'s `/v1/mcp`, unmodified.

Usage: python mcp_client.py MCP_URL API_KEY
Prints one JSON object with what it saw; the Rust test asserts on it.
"""

import asyncio
import json
import sys

import httpx2
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client


async def main(url: str, api_key: str) -> dict:
    seen = {}
    headers = {"Authorization": f"Bearer {api_key}"}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        async with streamable_http_client(url, http_client=http) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                seen["server"] = init.server_info.name
                tools = await session.list_tools()
                seen["tools"] = {t.name: t.input_schema for t in tools.tools}
                answer = await session.call_tool("echo", {"text": "from python"})
                seen["structured"] = answer.structured_content
                seen["is_error"] = bool(answer.is_error)
                failed = await session.call_tool("down", {})
                seen["failed_is_error"] = bool(failed.is_error)
                seen["failed"] = failed.structured_content
                try:
                    await session.call_tool("echo", {"text": 5})
                    seen["bad"] = None
                except Exception as err:  # the SDK raises its McpError for JSON-RPC errors
                    error = getattr(err, "error", None)
                    seen["bad"] = {
                        "code": getattr(error, "code", None),
                        "data": getattr(error, "data", None),
                    }
    return seen


print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2]))))
