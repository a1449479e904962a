#!/usr/bin/env bash
# Read benchmark: GET /<Type>/<id> of random existing resources over keep-alive, measured with wrk.
#
# Imports the generated patient data (see gen_patients.py) into a fresh temporary database,
# starts `medalliance serve --listen 127.0.0.1:0`, collects about 1000 Observation ids and
# the Patient ids through searches (_count=1000), writes a wrk Lua script that reads random ids,
# and runs `wrk -t2 -c<C> -d<D> --latency` for each connection count. It prints requests/s and
# p50/p90/p99 from wrk's output, and counts non-2xx answers and socket errors as failures.
# wrk and the server share the machine's cores, so the figures are lower bounds.
# Target for the record: >= 20,000 req/s with p99 < 5 ms (Observation read, -c32).
#
# Usage: bench/read.sh [--quick] [--patients N] [--duration 15s] [--connections 32,64]
#                      [--types Observation,Patient] [--results FILE]
#   --quick   200 patients, 5 s per run, Observation at -c32 only (smoke test: make test-all)
#   --results append machine-readable `read.<type>.c<C>.<key>=<value>` lines to FILE
#   --auth    run with authentication on (serve --auth smart): registers a client, gets a
#             SMART token and sends it with every request; without it the server runs
#             --auth none. Compare the two for the cost of token validation and scopes.
# Environment: MA_BIN, BUILD_DIR, MA_BENCH_DIR as in import.sh; MA_SERVER_THREADS (server
#   --threads, default the server's own default).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib/data.sh
source "$ROOT/bench/lib/data.sh"
# shellcheck source=bench/lib/server.sh
source "$ROOT/bench/lib/server.sh"
BIN="${MA_BIN:-$ROOT/${BUILD_DIR:-build}/src/cli/medalliance}"
BENCH_DIR="${MA_BENCH_DIR:-${TMPDIR:-/tmp}/medalliance-bench}"
PATIENTS=2000
PER_BUNDLE=10
SEED=1
DURATION=15s
CONNECTIONS="32,64"
TYPES="Observation,Patient"
RESULTS=""
AUTH=0

while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) PATIENTS=200; DURATION=5s; CONNECTIONS=32; TYPES=Observation; shift ;;
    --patients) PATIENTS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --types) TYPES="$2"; shift 2 ;;
    --results) RESULTS="$2"; shift 2 ;;
    --auth) AUTH=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "read.sh: unknown option $1" >&2; exit 64 ;;
  esac
done

for tool in wrk python3; do
  command -v "$tool" > /dev/null || { echo "read.sh: $tool not found (apt-get install $tool)" >&2; exit 1; }
done
if [[ ! -x "$BIN" ]]; then
  echo "read.sh: no binary at $BIN (build first, or set MA_BIN)" >&2
  exit 1
fi

mkdir -p "$BENCH_DIR"
DATA=$(patient_data "$BENCH_DIR" "$PATIENTS" "$PER_BUNDLE" "$SEED")

SCRATCH="$(mktemp -d "$BENCH_DIR/read.XXXXXX")"
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2> /dev/null; then
    kill "$SERVER_PID" 2> /dev/null || true
    wait "$SERVER_PID" 2> /dev/null || true
  fi
  rm -rf "$SCRATCH"
}
trap cleanup EXIT

load() { cut -d' ' -f1-3 /proc/loadavg; }

DB="$SCRATCH/read.db"
echo "== read benchmark: $PATIENTS patients from $DATA"
"$BIN" import --db "$DB" --synchronous normal "$DATA" | sed 's/^/   /'

server_args=(serve --listen 127.0.0.1:0 --db "$DB" --quiet --auth none)
((AUTH)) && server_args=(serve --listen 127.0.0.1:0 --db "$DB" --quiet --auth smart --token-lifetime 3600)
[[ -n "${MA_SERVER_THREADS:-}" ]] && server_args+=(--threads "$MA_SERVER_THREADS")
"$BIN" "${server_args[@]}" > "$SCRATCH/server.out" 2> "$SCRATCH/server.err" &
SERVER_PID=$!
PORT=$(ERR_LOG="$SCRATCH/server.err" wait_for_port "$SCRATCH/server.out" "$SERVER_PID")
BASE="http://127.0.0.1:$PORT"
echo "   server pid $SERVER_PID on $BASE; $(nproc) cores; auth $( ((AUTH)) && echo smart || echo none)"
export MA_TOKEN=""
if ((AUTH)); then
  MA_TOKEN=$("$ROOT/bench/auth/token.sh" "$BIN" "$DB" "$BASE" "$SCRATCH")
  export MA_TOKEN
  echo "   token for client bench (system/*.rs), ${#MA_TOKEN} bytes"
fi

# Collects up to LIMIT ids of TYPE through the search API, following next links.
collect_ids() {
  python3 - "$BASE" "$1" "$2" << 'EOF'
import json, os, sys, urllib.request
base, rtype, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
url, ids = f"{base}/{rtype}?_count={min(limit, 1000)}", []
token = os.environ.get("MA_TOKEN", "")
while url and len(ids) < limit:
    request = urllib.request.Request(url, headers={"Authorization": "Bearer " + token} if token else {})
    with urllib.request.urlopen(request, timeout=60) as answer:
        bundle = json.load(answer)
    ids += [e["resource"]["id"] for e in bundle.get("entry", []) if "resource" in e]
    url = next((l["url"] for l in bundle.get("link", []) if l.get("relation") == "next"), None)
    if url and url.startswith("/"):
        url = base + url
print("\n".join(ids[:limit]))
EOF
}

# Converts wrk's "1.23ms" / "850.00us" / "1.01s" to milliseconds.
to_ms() {
  awk -v t="$1" 'BEGIN {
    if (t ~ /us$/) { sub(/us$/, "", t); printf "%.3f", t / 1000 }
    else if (t ~ /ms$/) { sub(/ms$/, "", t); printf "%.3f", t }
    else if (t ~ /m$/) { sub(/m$/, "", t); printf "%.3f", t * 60000 }
    else if (t ~ /s$/) { sub(/s$/, "", t); printf "%.3f", t * 1000 }
    else printf "%s", t }'
}

IFS=',' read -r -a TYPE_LIST <<< "$TYPES"
IFS=',' read -r -a CONN_LIST <<< "$CONNECTIONS"
SUMMARY=()
FAILED=0
for rtype in "${TYPE_LIST[@]}"; do
  collect_ids "$rtype" 1000 > "$SCRATCH/$rtype.ids"
  count=$(wc -l < "$SCRATCH/$rtype.ids")
  if ((count == 0)); then
    echo "read.sh: no $rtype ids found" >&2
    exit 1
  fi
  # One read outside wrk: the id list must be readable before measuring.
  first=$(head -1 "$SCRATCH/$rtype.ids")
  python3 -c "import os,urllib.request,sys; t=os.environ.get('MA_TOKEN'); urllib.request.urlopen(urllib.request.Request(sys.argv[1], headers={'Authorization': 'Bearer '+t} if t else {}), timeout=10).read()" \
    "$BASE/$rtype/$first"
  script="$SCRATCH/read-$rtype.lua"
  {
    echo "-- generated by bench/read.sh: GET /$rtype/<random id of $count>"
    echo "local ids = {"
    sed 's/.*/  "&",/' "$SCRATCH/$rtype.ids"
    echo "}"
    cat << 'EOF'
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end
function init(args)
  math.randomseed(seed * 7919 + os.time())
end
function request()
  return wrk.format("GET", PREFIX .. ids[math.random(#ids)], HEADERS)
end
EOF
  } > "$script"
  sed -i "s|PREFIX|\"/$rtype/\"|" "$script"
  if [[ -n "$MA_TOKEN" ]]; then
    sed -i "s|HEADERS|{[\"Accept\"] = \"application/fhir+json\", [\"Authorization\"] = \"Bearer $MA_TOKEN\"}|" "$script"
  else
    sed -i "s|HEADERS|{[\"Accept\"] = \"application/fhir+json\"}|" "$script"
  fi
  echo "   $count $rtype ids; wrk script $script"
  for conns in "${CONN_LIST[@]}"; do
    load_before=$(load)
    out=$(wrk -t2 -c"$conns" -d"$DURATION" --latency -s "$script" "$BASE")
    echo "$out" > "$SCRATCH/wrk-$rtype-c$conns.txt"
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<< "$out")
    p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<< "$out")")
    p90=$(to_ms "$(awk '$1 == "90%" {print $2}' <<< "$out")")
    p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<< "$out")")
    total=$(awk '/requests in/ {print $1}' <<< "$out")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<< "$out")
    sockerr=$(awk '/Socket errors:/ {sub(/.*Socket errors: /, ""); print}' <<< "$out")
    non2xx=${non2xx:-0}
    line=$(printf '| %s | -t2 -c%s -d%s | %.0f | %s | %s | %s | %s | %s | %s | %s |' "$rtype" "$conns" \
      "$DURATION" "$rps" "$p50" "$p90" "$p99" "$total" "$non2xx" "${sockerr:-none}" "$load_before")
    echo "   $line"
    SUMMARY+=("$line")
    if [[ "$non2xx" != 0 || -n "$sockerr" ]]; then
      echo "read.sh: errors under load ($non2xx non-2xx, socket errors: ${sockerr:-none})" >&2
      echo "$out" >&2
      FAILED=1
    fi
    if ! kill -0 "$SERVER_PID" 2> /dev/null; then
      echo "read.sh: the server died under load" >&2
      cat "$SCRATCH/server.err" >&2
      exit 1
    fi
    if [[ -n "$RESULTS" ]]; then
      {
        echo "read.$rtype.c$conns.rps=$(printf '%.0f' "$rps")"
        echo "read.$rtype.c$conns.p50_ms=$p50"
        echo "read.$rtype.c$conns.p99_ms=$p99"
        echo "read.$rtype.c$conns.errors=$((non2xx))${sockerr:+ (socket: $sockerr)}"
        echo "read.$rtype.c$conns.load=$load_before"
      } >> "$RESULTS"
    fi
  done
done

echo
echo "| read | wrk | req/s | p50 ms | p90 ms | p99 ms | requests | non-2xx | socket errors | load before |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"
printf '%s\n' "${SUMMARY[@]}"
echo "load average at end: $(load)"
if [[ " ${TYPE_LIST[*]} " == *" Observation "* && " ${CONN_LIST[*]} " == *" 32 "* ]]; then
  verdict=$(awk -F'|' '$2 ~ /Observation/ && $3 ~ /-c32 / {
    print (($4 + 0 >= 20000 && $7 + 0 < 5) ? "met" : "NOT met") " (" $4 + 0 " req/s, p99 " $7 + 0 " ms)" }' \
    <<< "$(printf '%s\n' "${SUMMARY[@]}")")
  echo "target >= 20,000 req/s and p99 < 5 ms (Observation, -c32): $verdict"
fi
[[ -n "$RESULTS" ]] && echo "read.failed=$FAILED" >> "$RESULTS"
exit "$FAILED"
