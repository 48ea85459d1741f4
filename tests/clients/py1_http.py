#!/usr/bin/env python3
"""Python `mcp` 1.x client over Streamable HTTP (initialize + Mcp-Session-Id).

Usage: py1_http.py URL [--expect-protocol VERSION] [--header K:V ...]"""
import argparse

from mcp import ClientSession, types
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from common import CALL, check_protocol, check_result, check_tools, run


async def exercise(read, write, name, expect_protocol):
    """The shared 1.x check on a transport's streams."""
    async with ClientSession(read, write, client_info=types.Implementation(name=name, version="1")) as s:
        init = await s.initialize()
        print(f"serverInfo={init.serverInfo.name}")
        check_protocol(init.protocolVersion, expect_protocol)
        check_tools([t.name for t in (await s.list_tools()).tools])
        res = await s.call_tool(*CALL)
        check_result(res.isError, res.structuredContent, [b.text for b in res.content if isinstance(b, types.TextContent)])


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--expect-protocol")
    ap.add_argument("--header", action="append", default=[], help="extra HTTP header K:V (repeatable)")
    a = ap.parse_args()
    headers = {k.strip(): v.strip() for k, v in (h.split(":", 1) for h in a.header)}
    async with create_mcp_http_client(headers=headers or None) as http:
        async with streamable_http_client(a.url, http_client=http) as (read, write, get_session_id):
            await exercise(read, write, "py1-http", a.expect_protocol)
            print(f"session={get_session_id()}")


if __name__ == "__main__":
    run(main)
