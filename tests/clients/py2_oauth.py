#!/usr/bin/env python3
"""Python `mcp` 2.x client doing OAuth 2.1 end to end with the SDK's own client-credentials provider.

Usage: py2_oauth.py URL --issuer ISSUER --client-id ID [--scope S] [--mode auto|legacy] [--expect-protocol V]
The client secret is read from $MCP_OAUTH_CLIENT_SECRET (kept off the command line).

`mcp.client.auth.extensions.client_credentials.ClientCredentialsOAuthProvider` is the httpx2 auth of the
transport: the first request gets 401, the SDK reads `resource_metadata` from `WWW-Authenticate`, fetches the
RFC 9728 document, then the authorization server's metadata, posts a client_credentials grant with the RFC 8707
`resource` to the token endpoint and retries with the token. This script only watches the traffic (httpx2 event
hooks) and checks that this is what happened, then lists the tools and calls calculate (expects 5)."""
import argparse
import os
from urllib.parse import parse_qs

from mcp import Client
from mcp.client.auth import TokenStorage
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
import mcp_types as types

from common import fail, run
from py2_http import exercise


class MemoryStorage(TokenStorage):
    """Tokens and client info kept in memory for the one run."""

    def __init__(self):
        self.tokens = None
        self.client_info = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class Trail:
    """Every request and response the HTTP client saw, in order (auth-flow requests included)."""

    def __init__(self):
        self.events = []

    async def on_request(self, request):
        body = request.content.decode(errors="replace") if request.method == "POST" else ""
        self.events.append(("request", request.method, str(request.url), body))

    async def on_response(self, response):
        req = response.request
        challenge = response.headers.get("www-authenticate", "")
        self.events.append(("response", req.method, str(req.url), response.status_code, challenge))
        print(f"{req.method} {req.url} -> {response.status_code}" + (f" [{challenge}]" if challenge else ""))


def challenge_param(challenge: str, name: str) -> str | None:
    for part in challenge.replace("Bearer ", "", 1).split(","):
        k, _, v = part.strip().partition("=")
        if k == name:
            return v.strip('"')
    return None


def check_flow(trail: Trail, url: str, issuer: str, token: str | None):
    """The SDK discovered everything from the 401 and asked for a token bound to this resource."""
    responses = [e for e in trail.events if e[0] == "response"]
    first = next((r for r in responses if r[2] == url), None)
    if first is None or first[3] != 401:
        fail(f"the first MCP request was not answered 401: {first}")
    metadata_url = challenge_param(first[4], "resource_metadata")
    if not metadata_url:
        fail(f"no resource_metadata in the 401 challenge {first[4]!r}")
    if not any(r[1] == "GET" and r[2] == metadata_url and r[3] == 200 for r in responses):
        fail(f"the SDK did not fetch the protected resource metadata {metadata_url} from the challenge")
    as_meta = [r for r in responses if r[1] == "GET" and r[2].startswith(issuer.rstrip("/") + "/.well-known/")]
    if not any(r[3] == 200 for r in as_meta):
        fail(f"the SDK did not fetch the authorization server metadata of {issuer}: {as_meta}")
    posts = [e for e in trail.events if e[0] == "request" and e[1] == "POST" and e[2].startswith(issuer)]
    if not posts:
        fail(f"no token request to {issuer}")
    form = parse_qs(posts[-1][3])
    if form.get("grant_type") != ["client_credentials"] or form.get("resource") != [url]:
        fail(f"token request form {form}, expected grant_type=client_credentials and resource={url}")
    if token is None:
        fail("the SDK stored no access token")
    scope = form.get("scope", ["(none)"])[0]
    print(f"flow: 401 -> {metadata_url} -> {as_meta[-1][2]} -> token (resource={url}, scope={scope}) -> retried")


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--issuer", required=True)
    ap.add_argument("--client-id", required=True)
    ap.add_argument("--scope")
    ap.add_argument("--mode", default="auto")
    ap.add_argument("--expect-protocol")
    a = ap.parse_args()
    secret = os.environ.get("MCP_OAUTH_CLIENT_SECRET")
    if not secret:
        raise SystemExit("MCP_OAUTH_CLIENT_SECRET is not set")
    storage = MemoryStorage()
    provider = ClientCredentialsOAuthProvider(
        server_url=a.url,
        storage=storage,
        client_id=a.client_id,
        client_secret=secret,
        scope=a.scope,
        issuer=a.issuer,
    )
    trail = Trail()
    async with create_mcp_http_client(auth=provider) as http:
        http.event_hooks = {"request": [trail.on_request], "response": [trail.on_response]}
        transport = streamable_http_client(a.url, http_client=http)
        info = types.Implementation(name="py2-oauth", version="1")
        async with Client(transport, mode=a.mode, client_info=info) as c:
            await exercise(c, a.expect_protocol)
    check_flow(trail, a.url, a.issuer, storage.tokens.access_token if storage.tokens else None)


if __name__ == "__main__":
    run(main)
