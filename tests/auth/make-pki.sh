#!/usr/bin/env bash
# A throwaway test PKI for the mTLS integration checks, made with the openssl CLI (EC P-256, valid 2 days):
#   ca.pem / ca.key                  the CA the server trusts for client certificates (and that signs its own cert)
#   server.pem / server.key          127.0.0.1 + localhost, serverAuth
#   client.pem / client.key          CN=integration-client, clientAuth, signed by ca   -> mapped to a principal
#   unmapped.pem / unmapped.key      CN=unmapped-client, clientAuth, signed by ca      -> no identity rule matches
#   rogue-ca.pem / rogue-ca.key      another CA, unknown to the server
#   rogue.pem / rogue.key            CN=integration-client (the mapped name!), clientAuth, signed by rogue-ca
# Usage: make-pki.sh DIR   (DIR is emptied first)
set -euo pipefail
dir=${1:?usage: make-pki.sh DIR}
rm -rf "$dir"
mkdir -p "$dir"
cd "$dir"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; chmod 600 "$1.key"; }

ca() { # name, subject
  key "$1"
  openssl req -x509 -new -key "$1.key" -subj "/CN=$2" -days 2 -sha256 \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -out "$1.pem"
}

leaf() { # name, subject CN, issuer, extendedKeyUsage, subjectAltName (optional)
  key "$1"
  openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature"
    echo "extendedKeyUsage=$4"
    if [ -n "${5:-}" ]; then echo "subjectAltName=$5"; fi
  } > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial -days 2 -sha256 \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

ca ca "mcp-secure integration CA"
ca rogue-ca "rogue integration CA"
leaf server "127.0.0.1" ca serverAuth "IP:127.0.0.1,DNS:localhost"
leaf client "integration-client" ca clientAuth
leaf unmapped "unmapped-client" ca clientAuth
leaf rogue "integration-client" rogue-ca clientAuth
rm -f ./*.srl
echo "test PKI ready in $PWD"
