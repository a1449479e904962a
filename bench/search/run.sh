#!/usr/bin/env bash
# Search benchmark (issue #3): generated patients (about 42 resources each: Patient, Encounters,
# lab Observations, DiagnosticReports, Conditions) imported into SQLite, the server over HTTP,
# wrk per query kind: p50/p99 and requests/s.
#
# Usage: bench/search/run.sh [--patients N] [--duration 10s] [--connections 8] [--auth]
#   --auth runs with authentication on and a SMART token (bench/auth/token.sh); else --auth none.
#   --patients 24000 gives about 1,000,000 resources; the default 2400 about 100,000.
# Environment: MA_BIN (default $BUILD_DIR/src/cli/medalliance, BUILD_DIR default build),
#   MA_BENCH_DIR (data and scratch, default ${TMPDIR:-/tmp}/medalliance-bench).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="${MA_BIN:-$ROOT/${BUILD_DIR:-build}/src/cli/medalliance}"
BENCH_DIR="${MA_BENCH_DIR:-${TMPDIR:-/tmp}/medalliance-bench}"
PATIENTS=2400
DURATION=10s
CONNS=8
AUTH=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --patients) PATIENTS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --connections) CONNS="$2"; shift 2 ;;
    --auth) AUTH=1; shift ;;
    *) echo "run.sh: unknown option $1" >&2; exit 64 ;;
  esac
done

DATA="$BENCH_DIR/data-p${PATIENTS}-b10-s1"
if [[ ! -f "$DATA/.complete" ]]; then
  rm -rf "$DATA"
  python3 "$ROOT/bench/gen_patients.py" --patients "$PATIENTS" --per-bundle 10 --seed 1 --out "$DATA"
  touch "$DATA/.complete"
fi
SCRATCH="$(mktemp -d "$BENCH_DIR/search.XXXXXX")"
SERVER_PID=""
cleanup() {
  [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2> /dev/null || true
  rm -rf "$SCRATCH"
}
trap cleanup EXIT
DB="$SCRATCH/search.db"
echo "== search benchmark: $PATIENTS patients; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
"$BIN" import --db "$DB" --synchronous normal "$DATA" | sed 's/^/   /'
AUTH_ARGS=(--auth none)
((AUTH)) && AUTH_ARGS=(--auth smart --token-lifetime 3600)
"$BIN" serve --listen 127.0.0.1:0 --db "$DB" --quiet "${AUTH_ARGS[@]}" > "$SCRATCH/server.out" 2> "$SCRATCH/server.err" &
SERVER_PID=$!
PORT=""
for _ in $(seq 1 100); do
  PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$SCRATCH/server.out")
  [[ -n "$PORT" ]] && break
  sleep 0.1
done
BASE="http://127.0.0.1:$PORT"
export MA_TOKEN=""
((AUTH)) && MA_TOKEN=$("$ROOT/bench/auth/token.sh" "$BIN" "$DB" "$BASE" "$SCRATCH")
CURL_AUTH=()
[[ -n "$MA_TOKEN" ]] && CURL_AUTH=(-H "Authorization: Bearer $MA_TOKEN")
python3 "$ROOT/bench/search/make_urls.py" "$BASE" "$SCRATCH/urls" | sed 's/^/   /'

to_ms() {
  awk -v t="$1" 'BEGIN {
    if (t ~ /us$/) { sub(/us$/, "", t); printf "%.2f", t / 1000 }
    else if (t ~ /ms$/) { sub(/ms$/, "", t); printf "%.2f", t }
    else if (t ~ /s$/) { sub(/s$/, "", t); printf "%.2f", t * 1000 }
    else printf "%s", t }'
}
echo
echo "| query | req/s | p50 ms | p99 ms | non-2xx |"
echo "| --- | ---: | ---: | ---: | ---: |"
for file in "$SCRATCH"/urls/*.urls; do
  name=$(basename "$file" .urls)
  # One request outside wrk must succeed.
  first=$(head -1 "$file")
  curl -sf -o /dev/null "${CURL_AUTH[@]}" "$BASE$first" || { echo "run.sh: $first failed" >&2; exit 1; }
  out=$(URLS="$file" wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s "$ROOT/bench/search/urls.lua" "$BASE")
  rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<< "$out")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<< "$out")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<< "$out")")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<< "$out")
  echo "| $name | $rps | $p50 | $p99 | ${non2xx:-0} |"
done
