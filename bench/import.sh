#!/usr/bin/env bash
# Import benchmark: `medalliance import` of generated patient Bundles into a fresh SQLite database.
#
# Modes, each run RUNS times, interleaved so that machine noise spreads over all of them:
#   validate+full    validation on, synchronous=full (the defaults; the recorded figure)
#   validate+normal  validation on, --synchronous normal  (cost of fsync on every commit)
#   novalidate+full  --no-validate, synchronous=full      (cost of validation)
# Every run starts from an empty temporary database. A run with a failed file is an error.
# Target for the record: >= 20,000 resources/s for validate+full.
#
# Usage: bench/import.sh [--quick] [--patients N] [--per-bundle K] [--runs R] [--modes LIST]
#                        [--results FILE]
#   --quick         200 patients, 1 run per mode (smoke test: make test-all)
#   --modes LIST    comma-separated subset of the modes above
#   --results FILE  append machine-readable `import.<mode>.<key>=<value>` lines to FILE
# Environment: MA_BIN (default $BUILD_DIR/src/cli/medalliance, BUILD_DIR default build),
#   MA_BENCH_DIR (data and scratch, default ${TMPDIR:-/tmp}/medalliance-bench).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib/data.sh
source "$ROOT/bench/lib/data.sh"
BIN="${MA_BIN:-$ROOT/${BUILD_DIR:-build}/src/cli/medalliance}"
BENCH_DIR="${MA_BENCH_DIR:-${TMPDIR:-/tmp}/medalliance-bench}"
PATIENTS=2000
PER_BUNDLE=10
RUNS=3
SEED=1
MODES="validate+full,validate+normal,novalidate+full"
RESULTS=""

while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) PATIENTS=200; RUNS=1; shift ;;
    --patients) PATIENTS="$2"; shift 2 ;;
    --per-bundle) PER_BUNDLE="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --modes) MODES="$2"; shift 2 ;;
    --results) RESULTS="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "import.sh: unknown option $1" >&2; exit 64 ;;
  esac
done

if [[ ! -x "$BIN" ]]; then
  echo "import.sh: no binary at $BIN (build first, or set MA_BIN)" >&2
  exit 1
fi

# Generates the data set once per (patients, per-bundle, seed); reused by read.sh.
DATA=$(patient_data "$BENCH_DIR" "$PATIENTS" "$PER_BUNDLE" "$SEED")
DATA_MB=$(du -sm "$DATA" | cut -f1)

SCRATCH="$(mktemp -d "$BENCH_DIR/import.XXXXXX")"
trap 'rm -rf "$SCRATCH"' EXIT

load() { cut -d' ' -f1-3 /proc/loadavg; }

echo "== import benchmark: $PATIENTS patients, $PER_BUNDLE per Bundle, ${DATA_MB} MB in $DATA"
echo "   binary $BIN; $(nproc) cores; load average at start: $(load)"

IFS=',' read -r -a MODE_LIST <<< "$MODES"
declare -A RATES CPU_RATES RESOURCES
FAILED=0
for ((run = 1; run <= RUNS; run++)); do
  for mode in "${MODE_LIST[@]}"; do
    args=()
    case "$mode" in
      validate+full) args=(--synchronous full) ;;
      validate+normal) args=(--synchronous normal) ;;
      novalidate+full) args=(--synchronous full --no-validate) ;;
      novalidate+normal) args=(--synchronous normal --no-validate) ;;
      *) echo "import.sh: unknown mode $mode" >&2; exit 64 ;;
    esac
    db="$SCRATCH/run.db"
    rm -f "$db" "$db-wal" "$db-shm"
    load_before=$(load)
    set +e
    # CPU seconds (user + sys) of the import process: a steadier figure than wall time when
    # other work shares the cores.
    TIMEFORMAT='%U %S'
    { time "$BIN" import --db "$db" "${args[@]}" "$DATA" > "$SCRATCH/stdout" \
        2> "$SCRATCH/stderr"; } 2> "$SCRATCH/time"
    status=$?
    set -e
    output=$(cat "$SCRATCH/stdout")
    cpu=$(awk '{printf "%.2f", $1 + $2}' "$SCRATCH/time")
    # imported N resources from F files in S s (R resources/s); K files failed
    if [[ ! "$output" =~ imported\ ([0-9]+)\ resources\ from\ ([0-9]+)\ files\ in\ ([0-9.]+)\ s\ \(([0-9]+)\ resources/s\)\;\ ([0-9]+)\ files\ failed ]]; then
      echo "import.sh: unexpected output from $mode (exit $status): $output" >&2
      head -20 "$SCRATCH/stderr" >&2
      exit 1
    fi
    n=${BASH_REMATCH[1]}; secs=${BASH_REMATCH[3]}; rate=${BASH_REMATCH[4]}; failed=${BASH_REMATCH[5]}
    db_mb=$(du -cm "$db"* | tail -1 | cut -f1)
    cpu_rate=$(awk -v n="$n" -v c="$cpu" 'BEGIN {printf "%d", (c > 0) ? n / c : 0}')
    printf '   run %d %-17s %6d resources in %6.2f s = %6d resources/s; cpu %6.2f s = %6d per cpu-s; db %d MB; load %s\n' \
      "$run" "$mode" "$n" "$secs" "$rate" "$cpu" "$cpu_rate" "$db_mb" "$load_before"
    if [[ "$failed" != 0 || "$status" != 0 ]]; then
      echo "import.sh: $failed files failed in mode $mode:" >&2
      head -20 "$SCRATCH/stderr" >&2
      FAILED=1
    fi
    RATES[$mode]="${RATES[$mode]:-} $rate"
    CPU_RATES[$mode]="${CPU_RATES[$mode]:-} $cpu_rate"
    RESOURCES[$mode]=$n
  done
done

median() { tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
best() { tr ' ' '\n' | sed '/^$/d' | sort -n | tail -1; }

echo
echo "| mode | resources | runs (resources/s, wall) | median | best | median per cpu-s |"
echo "| --- | ---: | --- | ---: | ---: | ---: |"
for mode in "${MODE_LIST[@]}"; do
  runs=$(echo ${RATES[$mode]} | sed 's/ / · /g')
  med=$(echo "${RATES[$mode]}" | median)
  top=$(echo "${RATES[$mode]}" | best)
  cpu_med=$(echo "${CPU_RATES[$mode]}" | median)
  echo "| $mode | ${RESOURCES[$mode]} | $runs | $med | $top | $cpu_med |"
  if [[ -n "$RESULTS" ]]; then
    {
      echo "import.$mode.resources=${RESOURCES[$mode]}"
      echo "import.$mode.median=$med"
      echo "import.$mode.cpu_median=$cpu_med"
      echo "import.$mode.runs=$(echo ${RATES[$mode]})"
    } >> "$RESULTS"
  fi
done
echo "load average at end: $(load)"
if [[ -n "$RESULTS" ]]; then
  echo "import.patients=$PATIENTS" >> "$RESULTS"
  echo "import.failed=$FAILED" >> "$RESULTS"
fi
if [[ " ${MODE_LIST[*]} " == *" validate+full "* ]]; then
  med=$(echo "${RATES[validate+full]}" | median)
  if ((med >= 20000)); then
    echo "target >= 20,000 resources/s with validation: met ($med)"
  else
    echo "target >= 20,000 resources/s with validation: NOT met ($med)"
  fi
fi
exit "$FAILED"
