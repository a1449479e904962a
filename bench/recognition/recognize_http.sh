#!/usr/bin/env bash
# $recognize over HTTP (issue 6 target: 10 items, 5 years of history, 1,000,000 observations:
# p50 <= 2 ms, p99 <= 10 ms). The same database as recognize_bench (built by it when missing),
# served by `medalliance serve --auth none` on a free loopback port; wrk POSTs the 10-item
# Parameters for random patients (one connection, then CONNECTIONS), printing wrk's latency
# distribution, the server's CPU time per request and the load. Stops the server on exit; the
# database is kept for the next run.
#
# Usage: bench/recognition/recognize_http.sh [OBSERVATIONS (default 1000000)] [DURATION (20s)]
#                                            [CONNECTIONS (default "1 4")]
# Environment: MA_BIN (server), MA_BENCH_BIN (recognize_bench), MA_DB, MA_THREADS (server
#   threads, default 2).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=bench/lib/server.sh
source "$ROOT/bench/lib/server.sh"
BIN="${MA_BIN:-$ROOT/build/src/cli/medalliance}"
BENCH_BIN="${MA_BENCH_BIN:-$ROOT/build/bench/recognition/recognize_bench}"
OBSERVATIONS="${1:-1000000}"
DURATION="${2:-20s}"
CONNECTIONS="${3:-1 4}"
DB="${MA_DB:-${TMPDIR:-/tmp}/recognize-bench-$OBSERVATIONS.db}"
PATIENTS=$((OBSERVATIONS / 100))
if [[ ! -f "$DB" ]]; then
  "$BENCH_BIN" "$OBSERVATIONS" 20 "$DB"
fi
WORK="$(mktemp -d "${TMPDIR:-/tmp}/recognize-http.XXXXXX")"
LOG="$WORK/serve.log"
"$BIN" serve --db "$DB" --listen 127.0.0.1:0 --quiet --auth none --synchronous normal \
  --threads "${MA_THREADS:-2}" >"$LOG" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
PORT=$(wait_for_port "$LOG" "$SERVER")
cat >"$WORK/recognize.lua" <<LUA
math.randomseed(11)
local items = {"2823-3", "2951-2", "2075-0", "2345-7", "4548-4", "1742-6", "2160-0", "2093-3",
               "3016-3", "5196-1"}
request = function()
  local body = '{"resourceType":"Parameters","parameter":[{"name":"patient","valueReference":' ..
    '{"reference":"Patient/p' .. math.random(0, $PATIENTS - 1) .. '"}},' ..
    '{"name":"orderer","valueReference":{"reference":"Organization/gz-central"}},' ..
    '{"name":"at","valueDateTime":"2026-06-15T10:00:00+08:00"}'
  for _, code in ipairs(items) do
    body = body .. ',{"name":"item","valueCoding":{"system":"http://loinc.org","code":"' .. code .. '"}}'
  end
  body = body .. ']}'
  return wrk.format("POST", "/\$recognize", {["Content-Type"] = "application/fhir+json"}, body)
end
LUA
status=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/fhir+json' \
  --data '{"resourceType":"Parameters","parameter":[{"name":"patient","valueReference":{"reference":"Patient/p0"}},{"name":"orderer","valueReference":{"reference":"Organization/gz-central"}},{"name":"item","valueString":"2823-3"}]}' \
  "http://127.0.0.1:$PORT/\$recognize")
[[ "$status" == 200 ]] || { echo "\$recognize answered $status" >&2; exit 1; }
# The server's CPU time (user + system, clock ticks) from /proc: less sensitive to the load of
# other processes than wall time.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER/stat"; }
TICK=$(getconf CLK_TCK)
for connections in $CONNECTIONS; do
  echo "== $connections connection(s); load before: $(uptime)"
  before=$(cpu_ticks)
  wrk -t1 -c"$connections" -d"$DURATION" --latency -s "$WORK/recognize.lua" \
    "http://127.0.0.1:$PORT" | tee "$WORK/wrk.txt"
  after=$(cpu_ticks)
  requests=$(awk '/requests in/ {print $1}' "$WORK/wrk.txt")
  awk -v t=$((after - before)) -v n="$requests" -v hz="$TICK" \
    'BEGIN { if (n > 0) printf "server CPU: %.3f ms per request (%d requests)\n", t * 1000 / hz / n, n }'
  echo "load after: $(uptime)"
done
