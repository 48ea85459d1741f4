"""Shared helpers of the Python client checks (works with `mcp` 1.x and 2.x).

Every script lists the tools, calls calculate {"a":2,"b":3,"op":"add"} and checks the result is 5.
Exit codes: 0 = ok, 1 = wrong answer (FAIL: line on stderr), 2 = error (ERROR: lines on stderr)."""
import asyncio
import json
import sys

CALL = ("calculate", {"a": 2, "b": 3, "op": "add"})
EXPECTED = 5


class CheckFailed(Exception):
    """A wrong answer from the server (exit 1)."""


def fail(msg: str):
    raise CheckFailed(msg)


def value_of(structured, texts):
    """The tool's numeric answer: from structuredContent, else from the first text block. Returns (value, source)."""
    if isinstance(structured, dict):
        for k in ("result", "value", "sum"):
            if k in structured:
                return structured[k], f"structuredContent.{k}"
        if len(structured) == 1:
            return next(iter(structured.values())), "structuredContent"
    elif isinstance(structured, (int, float)):
        return structured, "structuredContent"
    for txt in texts:
        txt = txt.strip()
        try:
            v = json.loads(txt)
        except ValueError:
            return txt, "content[text]"
        if isinstance(v, dict) and len(v) == 1:
            v = next(iter(v.values()))
        return v, "content[text]"
    return None, "none"


def check_protocol(actual, expected):
    print(f"negotiated protocol version: {actual}")
    if expected and actual != expected:
        fail(f"negotiated protocol version {actual!r}, expected {expected!r}")


def check_tools(names):
    print("tools:", names)
    if CALL[0] not in names:
        fail(f"no {CALL[0]} tool in tools/list: {names}")


def check_result(is_error, structured, texts):
    print(f"isError={is_error} structuredContent={structured!r} text={texts!r}")
    if is_error:
        fail(f"{CALL[0]} returned isError: {texts!r}")
    v, src = value_of(structured, texts)
    try:
        ok = float(v) == EXPECTED
    except (TypeError, ValueError):
        ok = False
    if not ok:
        fail(f"{CALL[0]} {CALL[1]} = {v!r} (from {src}), expected {EXPECTED}")
    print(f"result={v!r} (from {src})")


def leaves(e):
    subs = getattr(e, "exceptions", None)
    return [leaf for s in subs for leaf in leaves(s)] if subs else [e]


def run(main):
    """Run `main()` (a coroutine function) and exit with the script's exit code."""
    try:
        asyncio.run(main())
    except BaseException as e:  # noqa: BLE001 - anyio wraps failures in exception groups
        failures = [x for x in leaves(e) if isinstance(x, CheckFailed)]
        if failures:
            print(f"FAIL: {failures[0]}", file=sys.stderr)
            sys.exit(1)
        for leaf in leaves(e):
            print(f"ERROR: {type(leaf).__name__}: {leaf}", file=sys.stderr)
        sys.exit(2)
    print("OK")
    sys.exit(0)
