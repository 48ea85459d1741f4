#!/usr/bin/env python3
"""Mint a compact JWS for the integration checks, with the standard library only.

Usage: mint_jwt.py --iss ISS --aud AUD [--sub SUB] [--alg HS256|none] [--sign-anyway] [--iat-offset S] [--ttl S]
The HMAC secret is read from the environment variable named by --secret-env (default MCP_TEST_JWT_SECRET), the
same one the server's `hmac_secret = { env = ... }` names. Prints the token on stdout.

--alg none produces `{"alg":"none"}` with an empty signature (an unsecured JWT, RFC 7519 §6), or with
--sign-anyway the HMAC of that header and the claims as the signature; a server must refuse both whatever the claims. --iat-offset shifts `iat` (and so `exp = iat + ttl`) from now: -600 with --ttl 300
gives a token that expired five minutes ago."""
import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
import time


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def part(obj) -> str:
    return b64(json.dumps(obj, separators=(",", ":")).encode())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iss", required=True)
    ap.add_argument("--aud", required=True)
    ap.add_argument("--sub", default="jwt-client")
    ap.add_argument("--alg", default="HS256", choices=["HS256", "none"])
    ap.add_argument("--iat-offset", type=int, default=0)
    ap.add_argument("--ttl", type=int, default=300)
    ap.add_argument("--sign-anyway", action="store_true", help="with --alg none: add an HMAC signature anyway")
    ap.add_argument("--secret-env", default="MCP_TEST_JWT_SECRET")
    a = ap.parse_args()
    iat = int(time.time()) + a.iat_offset
    header = {"alg": a.alg, "typ": "JWT"}
    claims = {"iss": a.iss, "aud": a.aud, "sub": a.sub, "iat": iat, "exp": iat + a.ttl}
    signing_input = f"{part(header)}.{part(claims)}"
    if a.alg == "none" and not a.sign_anyway:
        print(f"{signing_input}.")
        return
    secret = os.environ.get(a.secret_env)
    if not secret:
        sys.exit(f"{a.secret_env} is not set")
    sig = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    print(f"{signing_input}.{b64(sig)}")


if __name__ == "__main__":
    main()
