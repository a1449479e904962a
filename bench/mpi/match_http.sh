#!/usr/bin/env bash
# Patient/$match over HTTP with 1,000,000 Patients (issue 5 target: p50 <= 5 ms, p99 <= 20 ms).
#
# Builds once, under MA_BENCH_DIR, a population of RECORDS Patients (tools/mpi/gen_population.py,
# seed 7) and its database (`medalliance import --no-mpi --synchronous normal`: the matcher's
# index is rebuilt from the Patients at start-up either way; --no-mpi because the generator
# mistypes identity numbers on purpose and the hook would refuse those records). Then starts
# `medalliance serve` on it and runs wrk with POST Patient/$match bodies (match_bodies.py:
# half re-registrations of indexed people, half strangers), printing wrk's latency
# distribution and the load of the machine.
#
# Usage: bench/mpi/match_http.sh [RECORDS (default 1000000)] [DURATION (default 30s)]
#                                [CONNECTIONS (default "1 8": one wrk run per count)]
# Environment: MA_BIN, MA_BENCH_DIR (default ${TMPDIR:-/tmp}/medalliance-bench), MA_THREADS
#   (server threads, default 2), MA_WRK_THREADS (default 2).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=bench/lib/server.sh
source "$ROOT/bench/lib/server.sh"
BIN="${MA_BIN:-$ROOT/build/src/cli/medalliance}"
BENCH_DIR="${MA_BENCH_DIR:-${TMPDIR:-/tmp}/medalliance-bench}"
RECORDS="${1:-1000000}"
DURATION="${2:-30s}"
CONNECTIONS="${3:-1 8}"
mkdir -p "$BENCH_DIR"

POP="$BENCH_DIR/pop-match-$RECORDS"
if [[ ! -s "$POP/patients.ndjson" ]]; then
  python3 "$ROOT/tools/mpi/gen_population.py" --records "$RECORDS" --seed 7 --out "$POP"
fi
OTHER="$BENCH_DIR/pop-match-strangers"
if [[ ! -s "$OTHER/patients.ndjson" ]]; then
  python3 "$ROOT/tools/mpi/gen_population.py" --records 20000 --seed 8 --out "$OTHER"
fi
DB="$POP/patients.db"
if [[ ! -f "$POP/.db-complete" ]]; then
  rm -f "$DB" "$DB-wal" "$DB-shm"
  "$BIN" import --no-mpi --synchronous normal --db "$DB" "$POP/patients.ndjson"
  touch "$POP/.db-complete"
fi
BODIES="$POP/match-bodies.ndjson"
if [[ ! -s "$BODIES" ]]; then
  python3 "$ROOT/bench/mpi/match_bodies.py" "$POP/patients.ndjson" "$OTHER/patients.ndjson" \
    10000 "$BODIES"
fi

LOG="$(mktemp "$BENCH_DIR/match-serve.XXXXXX.log")"
started=$(date +%s.%N)
"$BIN" serve --db "$DB" --listen 127.0.0.1:0 --quiet --auth none --threads "${MA_THREADS:-2}" >"$LOG" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -f "$LOG"' EXIT
PORT=$(wait_for_port "$LOG" "$SERVER")
echo "server up on port $PORT after $(python3 -c "import time; print(f'{time.time() - $started:.1f}')") s (index load)"
for connections in $CONNECTIONS; do
  threads=$((connections < ${MA_WRK_THREADS:-2} ? connections : ${MA_WRK_THREADS:-2}))
  echo "== $connections connection(s); load before: $(uptime)"
  MA_MATCH_BODIES="$BODIES" wrk -t"$threads" -c"$connections" -d"$DURATION" --latency \
    -s "$ROOT/bench/mpi/match.lua" "http://127.0.0.1:$PORT"
  echo "load after: $(uptime)"
done
