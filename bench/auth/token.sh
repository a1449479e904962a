#!/usr/bin/env bash
# Registers the benchmark client (system/*.rs, a fresh ES384 key in SCRATCH) in DB and prints
# an access token from the running server at BASE. The client acts for MA_BENCH_ORG (default
# Organization/gz-central, one of the members of bench/gen_patients.py's record numbers), so
# that what it reads is its own members' records (the access rules hide the others). Used by bench/read.sh --auth and
# bench/search/run.sh --auth.   Usage: bench/auth/token.sh BIN DB BASE SCRATCH
set -euo pipefail
BIN=$1 DB=$2 BASE=$3 SCRATCH=$4
if [[ ! -f "$SCRATCH/bench.pem" ]]; then
  "$BIN" client add --db "$DB" --id bench --organization "${MA_BENCH_ORG:-Organization/gz-central}" \
    --scope 'system/*.rs' --generate-key "$SCRATCH/bench.pem" > /dev/null
fi
assertion=$("$BIN" client assertion --id bench --key "$SCRATCH/bench.pem" --aud "$BASE/auth/token")
curl -sS -X POST "$BASE/auth/token" --data-urlencode grant_type=client_credentials \
  --data-urlencode client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer \
  --data-urlencode "client_assertion=$assertion" --data-urlencode 'scope=system/*.rs' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
