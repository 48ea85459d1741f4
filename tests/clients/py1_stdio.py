#!/usr/bin/env python3
"""Python `mcp` 1.x client over stdio (spawns the server; newline-delimited JSON-RPC).

Usage: py1_stdio.py [--expect-protocol VERSION] -- COMMAND [ARGS...]
The child inherits this process's full environment."""
import argparse
import os

from mcp import StdioServerParameters
from mcp.client.stdio import stdio_client

from common import run
from py1_http import exercise


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--expect-protocol")
    ap.add_argument("command", nargs="+")
    a = ap.parse_args()
    params = StdioServerParameters(command=a.command[0], args=a.command[1:], env=dict(os.environ))
    async with stdio_client(params) as (read, write):
        await exercise(read, write, "py1-stdio", a.expect_protocol)


if __name__ == "__main__":
    run(main)
