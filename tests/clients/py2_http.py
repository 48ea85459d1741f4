#!/usr/bin/env python3
"""Python `mcp` 2.x client over Streamable HTTP.

Usage: py2_http.py URL [--mode auto|legacy|2026-07-28] [--expect-protocol VERSION] [--header K:V ...]
                   [--authz admin|limited]
mode=auto (the SDK default) probes server/discover and falls back to initialize."""
import argparse

from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
import mcp_types as types

from common import CALL, check_protocol, check_result, check_tools, fail, run


async def error_of(coro):
    """The refusal of a tool call as text (an error answer or an isError result), or None."""
    try:
        res = await coro
    except Exception as e:  # noqa: BLE001 - the SDK raises its own error types
        return str(e)
    return f"isError: {res.content!r}" if res.is_error else None


async def check_authz(c, mode):
    """--authz admin: restart_server listed and callable; limited: only calculate, restart_server hidden as unknown."""
    names = [t.name for t in (await c.list_tools()).tools]
    if mode == "admin":
        if "restart_server" not in names:
            fail(f"admin: restart_server not listed: {names}")
        err = await error_of(c.call_tool("restart_server", {}))
        if err:
            fail(f"admin: restart_server refused: {err}")
        print("authz admin: restart_server listed and called")
    elif mode == "limited":
        if names != ["calculate"]:
            fail(f"limited key sees {names}, expected ['calculate']")
        hidden = await error_of(c.call_tool("restart_server", {}))
        unknown = await error_of(c.call_tool("no_such_tool", {}))
        print(f"authz limited: restart_server -> {hidden}; no_such_tool -> {unknown}")
        if not hidden or "Unknown tool" not in hidden:
            fail(f"restart_server was not refused as unknown: {hidden}")
        if hidden != unknown.replace("no_such_tool", "restart_server"):
            fail(f"a forbidden tool is distinguishable from an unknown one: {hidden} vs {unknown}")
    elif mode is not None:
        raise ValueError(f"--authz {mode}: want admin or limited")


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
    ap.add_argument("--authz")
    a = ap.parse_args()
    headers = {k.strip(): v.strip() for k, v in (h.split(":", 1) for h in a.header)}
    async with create_mcp_http_client(headers=headers or None) as http:
        transport = streamable_http_client(a.url, http_client=http)
        info = types.Implementation(name="py2-http", version="1")
        async with Client(transport, mode=a.mode, client_info=info) as c:
            await exercise(c, a.expect_protocol)
            await check_authz(c, a.authz)


if __name__ == "__main__":
    run(main)
