#!/usr/bin/env bash
# Profiles medalliance with `perf record -g --call-graph dwarf` and prints a stage breakdown
# (bench/perf_breakdown.py) plus the top leaf functions.
#
# Usage: bench/profile.sh import [--patients N]     profile `medalliance import` (default 200)
#        bench/profile.sh read [--duration 10s]     profile `serve` while wrk reads Observations
# Needs perf (linux-perf) and permission to use it (root, or kernel.perf_event_paranoid <= 1).
# Environment: MA_BIN, BUILD_DIR, MA_BENCH_DIR as in import.sh. Keeps perf.data in
# $MA_BENCH_DIR/profile-<kind>/ for `perf report -i`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib/server.sh
source "$ROOT/bench/lib/server.sh"
BIN="${MA_BIN:-$ROOT/${BUILD_DIR:-build}/src/cli/medalliance}"
BENCH_DIR="${MA_BENCH_DIR:-${TMPDIR:-/tmp}/medalliance-bench}"
KIND="${1:-}"
shift || true
PATIENTS=200
DURATION=10s
while [[ $# -gt 0 ]]; do
  case "$1" in
    --patients) PATIENTS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    *) echo "profile.sh: unknown option $1" >&2; exit 64 ;;
  esac
done
command -v perf > /dev/null || { echo "profile.sh: perf not found (apt-get install linux-perf)" >&2; exit 1; }
[[ -x "$BIN" ]] || { echo "profile.sh: no binary at $BIN" >&2; exit 1; }

OUT="$BENCH_DIR/profile-$KIND"
rm -rf "$OUT"
mkdir -p "$OUT"
DATA="$BENCH_DIR/data-p${PATIENTS}-b10-s1"
if [[ ! -f "$DATA/.complete" ]]; then
  rm -rf "$DATA"
  python3 "$ROOT/bench/gen_patients.py" --patients "$PATIENTS" --per-bundle 10 --out "$DATA"
  touch "$DATA/.complete"
fi
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"

case "$KIND" in
  import)
    perf record -F 499 -g --call-graph dwarf,32768 -o "$OUT/perf.data" \
      "$BIN" import --db "$OUT/import.db" "$DATA"
    ;;
  read)
    "$BIN" import --db "$OUT/read.db" --synchronous normal "$DATA"
    "$BIN" serve --listen 127.0.0.1:0 --db "$OUT/read.db" --quiet --auth none > "$OUT/server.out" 2>&1 &
    server=$!
    trap 'kill "$server" 2> /dev/null || true' EXIT
    port=$(wait_for_port "$OUT/server.out" "$server")
    python3 - "$port" > "$OUT/read.lua" << 'PY'
import json, sys, urllib.request
bundle = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/Observation?_count=1000"))
ids = [e["resource"]["id"] for e in bundle.get("entry", [])]
print("local ids = {" + ",".join(f'"{i}"' for i in ids) + "}")
print('function request() return wrk.format("GET", "/Observation/" .. ids[math.random(#ids)]) end')
PY
    perf record -F 499 -g --call-graph dwarf,16384 -o "$OUT/perf.data" -p "$server" &
    perf_pid=$!
    wrk -t2 -c32 -d"$DURATION" --latency -s "$OUT/read.lua" "http://127.0.0.1:$port"
    kill -INT "$perf_pid"
    wait "$perf_pid" || true
    ;;
  *) echo "usage: bench/profile.sh import|read [options]" >&2; exit 64 ;;
esac
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
perf script -i "$OUT/perf.data" 2> /dev/null | python3 "$ROOT/bench/perf_breakdown.py"
echo "perf data: $OUT/perf.data"
