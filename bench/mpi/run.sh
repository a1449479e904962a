#!/usr/bin/env bash
# Generates a population of RECORDS patients (default 1,010,000: 1M indexed + 10k queries) and
# runs mpi_match_bench on it. Usage: bench/mpi/run.sh [BUILD_DIR] [RECORDS] [QUERIES]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
records="${2:-1010000}"
queries="${3:-10000}"
out="${TMPDIR:-/tmp}/ma-mpi-bench-$records"
if [ ! -s "$out/patients.ndjson" ]; then
  python3 "$root/tools/mpi/gen_population.py" --records "$records" --seed 7 --out "$out"
fi
"$build/bench/mpi/mpi_match_bench" "$out/patients.ndjson" "$queries"
