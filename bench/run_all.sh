#!/usr/bin/env bash
# Runs the macro benchmarks (import.sh, read.sh) and prints one summary.
#
# Usage: bench/run_all.sh [--quick]
#   --quick  smoke mode for `make test-all`: 200 patients, one import run per mode, 5 s of wrk.
#            It fails only on errors (failed imports, non-2xx answers, socket errors), never on
#            a missed performance target.
# `make bench` runs the full version (2,000 patients, 3 runs, 15 s of wrk at -c32 and -c64).
# Environment: MA_BIN, BUILD_DIR, MA_BENCH_DIR (see import.sh).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ARGS=()
case "${1:-}" in
  --quick) ARGS=(--quick) ;;
  "") ;;
  *) echo "usage: bench/run_all.sh [--quick]" >&2; exit 64 ;;
esac
export MA_BENCH_DIR="${MA_BENCH_DIR:-${TMPDIR:-/tmp}/medalliance-bench}"
mkdir -p "$MA_BENCH_DIR"
RESULTS="$(mktemp "$MA_BENCH_DIR/results.XXXXXX")"
trap 'rm -f "$RESULTS"' EXIT

echo "medalliance benchmarks $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores," \
  "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo); load $(cut -d' ' -f1-3 /proc/loadavg)"
"$ROOT/bench/import.sh" "${ARGS[@]}" --results "$RESULTS"
import_status=$?
echo
"$ROOT/bench/read.sh" "${ARGS[@]}" --results "$RESULTS"
read_status=$?

value() { sed -n "s/^$1=//p" "$RESULTS" | tail -1; }
echo
echo "== summary (load average now $(cut -d' ' -f1-3 /proc/loadavg))"
for mode in validate+full validate+normal novalidate+full; do
  median=$(value "import\\.$mode\\.median")
  [[ -n "$median" ]] && printf '   import %-16s median %7s resources/s, %7s per cpu-s  (runs: %s)\n' \
    "$mode" "$median" "$(value "import\\.$mode\\.cpu_median")" "$(value "import\\.$mode\\.runs")"
done
for key in $(sed -n 's/^\(read\.[A-Za-z]*\.c[0-9]*\)\.rps=.*/\1/p' "$RESULTS"); do
  printf '   %-22s %7s req/s  p50 %s ms  p99 %s ms  errors %s\n' "$key" "$(value "$key\\.rps")" \
    "$(value "$key\\.p50_ms")" "$(value "$key\\.p99_ms")" "$(value "$key\\.errors")"
done
import_median=$(value 'import\.validate+full\.median')
read_rps=$(value 'read\.Observation\.c32\.rps')
read_p99=$(value 'read\.Observation\.c32\.p99_ms')
echo "   targets: import >= 20000 resources/s with validation: ${import_median:-?};" \
  "read >= 20000 req/s and p99 < 5 ms: ${read_rps:-?} req/s, p99 ${read_p99:-?} ms"
if ((import_status != 0 || read_status != 0)); then
  echo "   FAILED: import.sh exit $import_status, read.sh exit $read_status" >&2
  exit 1
fi
