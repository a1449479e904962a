#!/usr/bin/env bash
# Import rate with the master patient index on (identity checks, matching, Person links,
# review Tasks on every Patient write) against `medalliance import --no-mpi`, on the same
# patients-only data: the first RECORDS hook-acceptable Patients of a generated population
# (bench/mpi/valid_subset.py). Each mode runs RUNS times, interleaved, into a fresh database.
# Target (issue 5): the rate with matching within 30 % of the rate without (ratio >= 0.70).
#
# With MODE "mixed" the data are instead RECORDS patients with their whole records
# (bench/gen_patients.py: about 44 resources per patient, Bundles of 10 patients), the data of
# the import benchmark: the share of Patient writes a real import has.
#
# Usage: bench/mpi/import_compare.sh [RECORDS (default 100000)] [RUNS (default 2)]
#                                    [MODE: patients (default) | mixed]
# Environment: MA_BIN (default build/src/cli/medalliance), MA_BENCH_DIR (default
#   ${TMPDIR:-/tmp}/medalliance-bench), MA_SYNC (default normal: fsync is not what we measure).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="${MA_BIN:-$ROOT/build/src/cli/medalliance}"
BENCH_DIR="${MA_BENCH_DIR:-${TMPDIR:-/tmp}/medalliance-bench}"
RECORDS="${1:-100000}"
RUNS="${2:-2}"
SYNC="${MA_SYNC:-normal}"
mkdir -p "$BENCH_DIR"

MODE="${3:-patients}"
if [[ "$MODE" == mixed ]]; then
  DATA="$BENCH_DIR/mixed-$RECORDS"
  if [[ ! -d "$DATA" ]]; then
    python3 "$ROOT/bench/gen_patients.py" --patients "$RECORDS" --per-bundle 10 --out "$DATA.tmp"
    mv "$DATA.tmp" "$DATA"
  fi
else
  POP="$BENCH_DIR/pop-import-$RECORDS"
  if [[ ! -s "$POP/patients.ndjson" ]]; then
    python3 "$ROOT/tools/mpi/gen_population.py" --records $((RECORDS * 11 / 10)) --seed 3 --out "$POP"
  fi
  DATA="$POP/valid-$RECORDS.ndjson"
  if [[ ! -s "$DATA" ]]; then
    python3 "$ROOT/bench/mpi/valid_subset.py" "$POP/patients.ndjson" "$DATA" "$RECORDS"
  fi
fi

rate() {  # mode -> resources/s of one import into a fresh database
  local db
  db="$(mktemp -u "$BENCH_DIR/import-cmp.XXXXXX").db"
  local flags=(--db "$db" --synchronous "$SYNC")
  [[ "$1" == "off" ]] && flags+=(--no-mpi)
  local line
  line="$("$BIN" import "${flags[@]}" "$DATA" | tail -1)"
  rm -f "$db" "$db-wal" "$db-shm"
  echo "$line" | sed -E 's/.*\(([0-9]+) resources\/s\).*/\1/'
}

declare -a ON OFF
for ((i = 0; i < RUNS; ++i)); do
  OFF+=("$(rate off)")
  ON+=("$(rate on)")
  echo "run $((i + 1)): mpi off ${OFF[-1]}/s, mpi on ${ON[-1]}/s" >&2
done
best() { printf '%s\n' "$@" | sort -n | tail -1; }
off=$(best "${OFF[@]}")
on=$(best "${ON[@]}")
ratio=$(python3 -c "print(f'{$on / $off:.3f}')")
echo "mode=$MODE records=$RECORDS runs=$RUNS sync=$SYNC mpi_off=${off}/s mpi_on=${on}/s ratio=$ratio (target >= 0.70)"
echo "load: $(uptime)"
