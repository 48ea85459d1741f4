#!/usr/bin/env python3
"""Python `mcp` 2.x client over Streamable HTTP.

Usage: py2_http.py URL [--mode auto|legacy|2026-07-28] [--expect-protocol VERSION] [--header K:V ...]
mode=auto (the SDK default) probes server/discover and falls back to initialize."""
import argparse

from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
import mcp_types as types

from common import CALL, check_protocol, check_result, check_tools, run


async def exercise(c, expect_protocol):
    """The shared 2.x check on a connected `mcp.Client`."""
    check_protocol(c.protocol_version, expect_protocol)
    check_tools([t.name for t in (await c.list_tools()).tools])
    res = await c.call_tool(*CALL)
    check_result(res.is_error, res.structured_content, [b.text for b in res.content if isinstance(b, types.TextContent)])


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--mode", default="auto")
    ap.add_argument("--expect-protocol")
    ap.add_argument("--header", action="append", default=[], help="extra HTTP header K:V (repeatable)")
    a = ap.parse_args()
    headers = {k.strip(): v.strip() for k, v in (h.split(":", 1) for h in a.header)}
    async with create_mcp_http_client(headers=headers or None) as http:
        transport = streamable_http_client(a.url, http_client=http)
        info = types.Implementation(name="py2-http", version="1")
        async with Client(transport, mode=a.mode, client_info=info) as c:
            await exercise(c, a.expect_protocol)


if __name__ == "__main__":
    run(main)
