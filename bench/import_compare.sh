#!/usr/bin/env bash
# A/B import benchmark of two (or more) medalliance binaries on the same data, back to back.
#
# Runs `import --db <fresh db> --synchronous full DATA` (validation on: mode validate+full of
# bench/import.sh) with binary A, then B (then C ...), RUNS times, alternating so that machine
# noise spreads over all of them. Reports per run the wall rate (resources/s) and the rate per
# CPU-second (user+sys of the import process, the steadier figure on a shared machine), then
# the medians and the ratio of each binary to the first (A), wall and per CPU-second.
#
# Usage: bench/import_compare.sh A_BIN B_BIN [C_BIN ...] [--patients N] [--per-bundle K]
#                                [--runs R] [--names A,B,...]
#   e.g. the foundation against HEAD (issue 3: HEAD >= 70 % of the foundation):
#     git -C /work/main worktree add /work/wt-found 6e389b9 --detach
#     (cd /work/wt-found && cmake -S . -B build -DCMAKE_BUILD_TYPE=Release \
#        && cmake --build build --target medalliance)
#     bench/import_compare.sh /work/wt-found/build/src/cli/medalliance \
#       build/src/cli/medalliance --names foundation,HEAD --patients 2000 --runs 3
# Environment: MA_BENCH_DIR (data and scratch, default ${TMPDIR:-/tmp}/medalliance-bench).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib/data.sh
source "$ROOT/bench/lib/data.sh"
BENCH_DIR="${MA_BENCH_DIR:-${TMPDIR:-/tmp}/medalliance-bench}"
PATIENTS=2000
PER_BUNDLE=10
RUNS=3
SEED=1
NAMES=""
BINS=()

while [[ $# -gt 0 ]]; do
  case "$1" in
    --patients) PATIENTS="$2"; shift 2 ;;
    --per-bundle) PER_BUNDLE="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --names) NAMES="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "import_compare.sh: unknown option $1" >&2; exit 64 ;;
    *) BINS+=("$1"); shift ;;
  esac
done
if [[ ${#BINS[@]} -lt 2 ]]; then
  echo "import_compare.sh: need two binaries or more (A_BIN B_BIN ...); --help for usage" >&2
  exit 64
fi
for bin in "${BINS[@]}"; do
  [[ -x "$bin" ]] || { echo "import_compare.sh: no binary at $bin" >&2; exit 1; }
done
LABELS=()
[[ -n "$NAMES" ]] && IFS=',' read -r -a LABELS <<< "$NAMES"
COUNT=${#BINS[@]}
for ((i = ${#LABELS[@]}; i < COUNT; i++)); do LABELS[i]=$(printf "\\x$(printf %x $((65 + i)))"); done

DATA=$(patient_data "$BENCH_DIR" "$PATIENTS" "$PER_BUNDLE" "$SEED")
mkdir -p "$BENCH_DIR"
SCRATCH="$(mktemp -d "$BENCH_DIR/compare.XXXXXX")"
trap 'rm -rf "$SCRATCH"' EXIT
load() { cut -d' ' -f1-3 /proc/loadavg; }

echo "== import comparison: $PATIENTS patients, $PER_BUNDLE per Bundle ($DATA), validate+full"
for ((i = 0; i < COUNT; i++)); do echo "   ${LABELS[$i]}: ${BINS[$i]}"; done
echo "   $(nproc) cores; load average at start: $(load)"

declare -A WALL CPU
for ((run = 1; run <= RUNS; run++)); do
  for ((i = 0; i < COUNT; i++)); do
    db="$SCRATCH/run.db"
    rm -f "$db" "$db-wal" "$db-shm"
    load_before=$(load)
    TIMEFORMAT='%U %S'
    set +e
    { time "${BINS[$i]}" import --db "$db" --synchronous full "$DATA" > "$SCRATCH/stdout" \
        2> "$SCRATCH/stderr"; } 2> "$SCRATCH/time"
    status=$?
    set -e
    output=$(cat "$SCRATCH/stdout")
    if [[ $status -ne 0 || ! "$output" =~ imported\ ([0-9]+)\ resources\ from\ [0-9]+\ files\ in\ ([0-9.]+)\ s\ \(([0-9]+)\ resources/s\)\;\ 0\ files\ failed ]]; then
      echo "import_compare.sh: ${LABELS[$i]} failed (exit $status): $output" >&2
      head -20 "$SCRATCH/stderr" >&2
      exit 1
    fi
    n=${BASH_REMATCH[1]}; secs=${BASH_REMATCH[2]}; rate=${BASH_REMATCH[3]}
    cpu=$(awk '{printf "%.2f", $1 + $2}' "$SCRATCH/time")
    cpu_rate=$(awk -v n="$n" -v c="$cpu" 'BEGIN {printf "%d", (c > 0) ? n / c : 0}')
    db_mb=$(du -cm "$db"* | tail -1 | cut -f1)
    printf '   run %d %-12s %6d resources in %6.2f s = %6d /s; cpu %6.2f s = %6d per cpu-s; db %d MB; load %s\n' \
      "$run" "${LABELS[$i]}" "$n" "$secs" "$rate" "$cpu" "$cpu_rate" "$db_mb" "$load_before"
    WALL[$i]="${WALL[$i]:-} $rate"
    CPU[$i]="${CPU[$i]:-} $cpu_rate"
  done
done

median() { tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
echo
echo "| binary | wall resources/s (runs) | median | per cpu-s (runs) | median | vs ${LABELS[0]}: wall | per cpu-s |"
echo "| --- | --- | ---: | --- | ---: | ---: | ---: |"
wa=$(echo "${WALL[0]}" | median); ca=$(echo "${CPU[0]}" | median)
for ((i = 0; i < COUNT; i++)); do
  w=$(echo "${WALL[$i]}" | median); c=$(echo "${CPU[$i]}" | median)
  ratios=$(awk -v wa="$wa" -v w="$w" -v ca="$ca" -v c="$c" \
    'BEGIN {printf "%.0f %% | %.0f %%", 100 * w / wa, 100 * c / ca}')
  echo "| ${LABELS[$i]} | $(echo ${WALL[$i]} | sed 's/ / · /g') | $w | $(echo ${CPU[$i]} | sed 's/ / · /g') | $c | $ratios |"
done
echo "load average at end: $(load)"
