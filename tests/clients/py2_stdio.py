#!/usr/bin/env python3
"""Python `mcp` 2.x client over stdio (spawns the server; newline-delimited JSON-RPC).

Usage: py2_stdio.py [--mode auto|legacy|2026-07-28] [--expect-protocol VERSION] -- COMMAND [ARGS...]
The child inherits this process's full environment (the SDK default passes only HOME/LOGNAME/PATH/SHELL/TERM/USER)."""
import argparse
import os

from mcp import Client
from mcp.client.stdio import StdioServerParameters
import mcp_types as types

from common import run
from py2_http import exercise


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", default="auto")
    ap.add_argument("--expect-protocol")
    ap.add_argument("command", nargs="+")
    a = ap.parse_args()
    params = StdioServerParameters(command=a.command[0], args=a.command[1:], env=dict(os.environ))
    async with Client(params, mode=a.mode, client_info=types.Implementation(name="py2-stdio", version="1")) as c:
        await exercise(c, a.expect_protocol)


if __name__ == "__main__":
    run(main)
