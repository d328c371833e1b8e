#!/usr/bin/env bash
# Makes a development PKI for lantiand in DIR (default ./data/certs): a local CA, a server
# certificate for localhost/127.0.0.1, and client certificates whose subject CN is a terminal's VIN
# (mutual TLS binds a connection to that VIN). ECDSA P-256 throughout. Never for production; no key
# made here is ever committed.
#
#   certs/make-dev-certs.sh [DIR] [VIN ...]      # default VINs: the example terminals
#   certs/make-dev-certs.sh --client DIR VIN     # one more terminal certificate from the same CA
set -euo pipefail

days=825
make_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; chmod 600 "$1"; }

issue_client() {  # issue_client DIR VIN
  local dir=$1 vin=$2
  make_key "$dir/client-$vin.key"
  openssl req -new -key "$dir/client-$vin.key" -subj "/O=Lantian terminal/CN=$vin" -out "$dir/client-$vin.csr"
  openssl x509 -req -in "$dir/client-$vin.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
    -days "$days" -sha256 -out "$dir/client-$vin.crt" \
    -extfile <(printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n') 2>/dev/null
  rm -f "$dir/client-$vin.csr"
}

if [ "${1:-}" = "--client" ]; then
  [ $# -eq 3 ] || { echo "usage: $0 --client DIR VIN" >&2; exit 2; }
  issue_client "$2" "$3"
  echo "issued $2/client-$3.crt"
  exit 0
fi

dir=${1:-data/certs}
shift || true
vins=("$@")
[ ${#vins[@]} -gt 0 ] || vins=(LGAX2BG40N1000001 LZZ5CLSB5PA123456 ABCDE12345FGH6789)
mkdir -p "$dir"

make_key "$dir/ca.key"
openssl req -x509 -new -key "$dir/ca.key" -subj "/O=Lantian development/CN=Lantian development CA" \
  -days "$days" -sha256 -out "$dir/ca.crt" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"

make_key "$dir/server.key"
openssl req -new -key "$dir/server.key" -subj "/O=Lantian development/CN=localhost" -out "$dir/server.csr"
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
  -days "$days" -sha256 -out "$dir/server.crt" \
  -extfile <(printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n') 2>/dev/null
rm -f "$dir/server.csr"

for vin in "${vins[@]}"; do issue_client "$dir" "$vin"; done
echo "development certificates in $dir: ca.crt, server.crt/.key, client-<VIN>.crt/.key for ${vins[*]}"
