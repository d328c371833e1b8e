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

issue() {  # issue DIR NAME SUBJECT EXTENSIONS: NAME.key and NAME.crt signed by DIR/ca
  local dir=$1 name=$2 subject=$3 extensions=$4
  make_key "$dir/$name.key"
  openssl req -new -key "$dir/$name.key" -subj "$subject" -out "$dir/$name.csr"
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
    -days "$days" -sha256 -out "$dir/$name.crt" -extfile <(printf '%b' "$extensions") 2>/dev/null
  rm -f "$dir/$name.csr"
}

issue_client() {  # issue_client DIR VIN
  issue "$1" "client-$2" "/O=Lantian terminal/CN=$2" \
    'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n'
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

issue "$dir" server "/O=Lantian development/CN=localhost" \
  'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n'

for vin in "${vins[@]}"; do issue_client "$dir" "$vin"; done
echo "development certificates in $dir: ca.crt, server.crt/.key, client-<VIN>.crt/.key for ${vins[*]}"
