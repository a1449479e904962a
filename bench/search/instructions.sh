#!/usr/bin/env bash
# Search cost in instructions per request (callgrind), which unlike req/s does not move with the
# load of a shared machine: the server runs under valgrind on the database of
# bench/search/run.sh, each query kind's first N URLs are requested once to warm the caches,
# then again with instrumentation on; the server's instructions divided by N are reported.
#
# Usage: bench/search/instructions.sh [--patients N] [--requests N] [--only REGEX]
#   e.g. MA_BENCH_DIR=/work/bench-query bench/search/instructions.sh --patients 23000
#   --patients as for run.sh (the database must have been built by run.sh, which keeps it);
#   --requests N URLs per kind (default 30); --only REGEX as for run.sh.
# Environment: MA_BIN, BUILD_DIR, MA_BENCH_DIR as for run.sh. Needs valgrind.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=bench/lib/server.sh
source "$ROOT/bench/lib/server.sh"
BIN="${MA_BIN:-$ROOT/${BUILD_DIR:-build}/src/cli/medalliance}"
BENCH_DIR="${MA_BENCH_DIR:-${TMPDIR:-/tmp}/medalliance-bench}"
PATIENTS=2400
REQUESTS=30
ONLY=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --patients) PATIENTS="$2"; shift 2 ;;
    --requests) REQUESTS="$2"; shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "instructions.sh: unknown option $1" >&2; exit 64 ;;
  esac
done
DB="$BENCH_DIR/search-p${PATIENTS}.db"
[[ -f "$DB.complete" ]] || { echo "instructions.sh: no $DB; run bench/search/run.sh --patients $PATIENTS first" >&2; exit 1; }
command -v valgrind > /dev/null || { echo "instructions.sh: valgrind is not installed" >&2; exit 1; }

SCRATCH="$(mktemp -d "$BENCH_DIR/instructions.XXXXXX")"
VG_PID=""
cleanup() {
  [[ -n "$VG_PID" ]] && kill "$VG_PID" 2> /dev/null || true
  rm -rf "$SCRATCH"
}
trap cleanup EXIT
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$SCRATCH/cg.%p" \
  "$BIN" serve --listen 127.0.0.1:0 --db "$DB" --quiet --auth none \
  > "$SCRATCH/server.out" 2> "$SCRATCH/server.err" &
VG_PID=$!
PORT=$(ERR_LOG="$SCRATCH/server.err" wait_for_port "$SCRATCH/server.out" "$VG_PID" 120)
BASE="http://127.0.0.1:$PORT"
python3 "$ROOT/bench/search/make_urls.py" "$BASE" "$SCRATCH/urls" --samples "$REQUESTS" > /dev/null
echo "== instructions per request: $BIN ($(git -C "$ROOT" rev-parse --short HEAD 2> /dev/null || echo '?')), $DB, $REQUESTS URLs per kind"
echo "| query | instructions/request |"
echo "| --- | ---: |"
for file in "$SCRATCH"/urls/*.urls; do
  name=$(basename "$file" .urls)
  [[ -n "$ONLY" && ! "$name" =~ $ONLY ]] && continue
  head -"$REQUESTS" "$file" > "$SCRATCH/run.urls"
  while read -r url; do curl -sf -o /dev/null "$BASE$url"; done < "$SCRATCH/run.urls"
  callgrind_control -z "$VG_PID" > /dev/null 2>&1
  callgrind_control -i on "$VG_PID" > /dev/null 2>&1
  while read -r url; do curl -sf -o /dev/null "$BASE$url"; done < "$SCRATCH/run.urls"
  callgrind_control -i off "$VG_PID" > /dev/null 2>&1
  callgrind_control -d "$VG_PID" > /dev/null 2>&1
  dump=$(ls -t "$SCRATCH"/cg.*.* | head -1)
  total=$(callgrind_annotate "$dump" 2> /dev/null | awk '/PROGRAM TOTALS/ && !done {gsub(",", "", $1); print $1; done = 1}')
  lines=$(wc -l < "$SCRATCH/run.urls")
  echo "| $name | $(( total / lines )) |"
  rm -f "$dump"
done
