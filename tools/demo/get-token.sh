#!/usr/bin/env bash
# Gets an access token for a demo client registered by `medalliance serve --demo` (make run):
#   tools/demo/get-token.sh [CLIENT_ID] [BASE_URL] [SCOPE]
# defaults: demo-gz-central, http://127.0.0.1:8080, system/*.rs. Prints the access token, so:
#   TOKEN=$(tools/demo/get-token.sh) && curl -H "Authorization: Bearer $TOKEN" localhost:8080/Patient
# The demo private keys are generated at first start under var/demo-keys/ (MA_DEMO_KEYS), never in git.
set -euo pipefail
cd "$(dirname "$0")/../.."
CLIENT=${1:-demo-gz-central}
BASE=${2:-http://127.0.0.1:8080}
SCOPE=${3:-system/*.rs}
KEYS=${MA_DEMO_KEYS:-var/demo-keys}
BIN=${MA_BIN:-build/src/cli/medalliance}
[[ -x "$BIN" ]] || BIN=$(ls build*/src/cli/medalliance 2> /dev/null | head -1)
KEY="$KEYS/$CLIENT.pem"
[[ -f "$KEY" ]] || { echo "get-token.sh: no key $KEY (start the server with --demo first)" >&2; exit 1; }
ASSERTION=$("$BIN" client assertion --id "$CLIENT" --key "$KEY" --aud "$BASE/auth/token")
ANSWER=$(curl -sS -X POST "$BASE/auth/token" \
  --data-urlencode grant_type=client_credentials \
  --data-urlencode client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer \
  --data-urlencode "client_assertion=$ASSERTION" \
  --data-urlencode "scope=$SCOPE")
TOKEN=$(printf '%s' "$ANSWER" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("access_token",""))')
[[ -n "$TOKEN" ]] || { echo "get-token.sh: refused: $ANSWER" >&2; exit 1; }
printf '%s\n' "$TOKEN"
