#!/usr/bin/env bash
# Search benchmark (issue #3): generated patients (about 44 resources each: Patient, Encounters,
# lab Observations, DiagnosticReports, Conditions) imported into SQLite, the server over HTTP,
# wrk per query kind: requests/s, p50/p99 and the server's CPU time per request.
#
# Usage: bench/search/run.sh [--patients N | --resources N] [--duration 10s] [--connections 8]
#                            [--threads 2] [--only REGEX] [--keep-db] [--auth]
#   --auth runs with authentication on and a SMART token (bench/auth/token.sh); else --auth none.
#   --resources 1000000 (= --patients 22730) is the issue's size; the default 2400 patients
#   gives about 100,000 resources.
#   --only REGEX   run only the query kinds whose name matches (e.g. 'obs_code_value|chain')
# The database is built once with `medalliance import --synchronous normal` and kept as
# $MA_BENCH_DIR/search-p<N>.db (with a .complete marker); later runs reuse it. Delete it to
# rebuild (e.g. after a schema or index change: the server migrates it on start).
# Output: `uptime` before and after each query kind (the machine may be shared) and one table
# row per kind; "cpu us/req" is the server process's user+system CPU time during the wrk run
# divided by the requests wrk completed, which is less sensitive to other load than req/s.
# Environment: MA_BIN (default $BUILD_DIR/src/cli/medalliance, BUILD_DIR default build),
#   MA_BENCH_DIR (data and scratch, default ${TMPDIR:-/tmp}/medalliance-bench).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=bench/lib/server.sh
source "$ROOT/bench/lib/server.sh"
# shellcheck source=bench/lib/data.sh
source "$ROOT/bench/lib/data.sh"
BIN="${MA_BIN:-$ROOT/${BUILD_DIR:-build}/src/cli/medalliance}"
BENCH_DIR="${MA_BENCH_DIR:-${TMPDIR:-/tmp}/medalliance-bench}"
PATIENTS=2400
DURATION=10s
CONNS=8
THREADS=2
ONLY=""
AUTH=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --patients) PATIENTS="$2"; shift 2 ;;
    --resources) PATIENTS=$(( ($2 + 43) / 44 )); shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --connections) CONNS="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;
    --auth) AUTH=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 64 ;;
  esac
done
[[ -x "$BIN" ]] || { echo "run.sh: no binary at $BIN" >&2; exit 1; }
mkdir -p "$BENCH_DIR"

DATA=$(patient_data "$BENCH_DIR" "$PATIENTS" 10 1)
DB="$BENCH_DIR/search-p${PATIENTS}.db"
if [[ ! -f "$DB.complete" ]]; then
  rm -f "$DB" "$DB-wal" "$DB-shm"
  echo "== building $DB (once): load $(cut -d' ' -f1-3 /proc/loadavg)"
  start=$(date +%s)
  "$BIN" import --db "$DB" --synchronous normal "$DATA" | tail -3 | sed 's/^/   /'
  echo "   built in $(( $(date +%s) - start )) s"
  touch "$DB.complete"
fi

SCRATCH="$(mktemp -d "$BENCH_DIR/search.XXXXXX")"
SERVER_PID=""
cleanup() {
  [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2> /dev/null || true
  rm -rf "$SCRATCH"
}
trap cleanup EXIT
resources=$(sqlite3 "file:$DB?mode=ro" "SELECT COUNT(*) FROM current_resources WHERE deleted = 0" 2> /dev/null || echo "?")
echo "== search benchmark: $PATIENTS patients, $resources resources; $(nproc) cores;" \
  "wrk -t$THREADS -c$CONNS -d$DURATION"
echo "   binary $BIN ($(git -C "$ROOT" rev-parse --short HEAD 2> /dev/null || echo '?'))"
AUTH_ARGS=(--auth none)
((AUTH)) && AUTH_ARGS=(--auth smart --token-lifetime 3600)
"$BIN" serve --listen 127.0.0.1:0 --db "$DB" --quiet "${AUTH_ARGS[@]}" > "$SCRATCH/server.out" 2> "$SCRATCH/server.err" &
SERVER_PID=$!
PORT=$(ERR_LOG="$SCRATCH/server.err" wait_for_port "$SCRATCH/server.out" "$SERVER_PID" 30)
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
# utime + stime of the server in clock ticks (fields 14 and 15 of /proc/PID/stat).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }
TICKS=$(getconf CLK_TCK)

echo
echo "| query | req/s | p50 ms | p99 ms | cpu us/req | non-2xx | load (1 min) |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for file in "$SCRATCH"/urls/*.urls; do
  name=$(basename "$file" .urls)
  [[ -n "$ONLY" && ! "$name" =~ $ONLY ]] && continue
  # One request outside wrk must succeed; it also warms the page cache for the kind.
  first=$(head -1 "$file")
  curl -sf -o /dev/null "${CURL_AUTH[@]}" "$BASE$first" || { echo "run.sh: $first failed" >&2; exit 1; }
  before=$(cpu_ticks)
  out=$(URLS="$file" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$ROOT/bench/search/urls.lua" "$BASE")
  after=$(cpu_ticks)
  load=$(cut -d' ' -f1 /proc/loadavg)
  requests=$(awk '/requests in/ {print $1}' <<< "$out")
  rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<< "$out")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<< "$out")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<< "$out")")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<< "$out")
  cpu=$(awk -v a="$before" -v b="$after" -v n="$requests" -v hz="$TICKS" \
    'BEGIN { if (n > 0) printf "%.0f", (b - a) / hz * 1e6 / n; else print "?" }')
  echo "| $name | $rps | $p50 | $p99 | $cpu | ${non2xx:-0} | $load |"
done
echo
echo "uptime: $(uptime)"
