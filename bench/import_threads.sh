#!/usr/bin/env bash
# Instructions per import thread (callgrind), the load-independent figure for the import rate
# (issue 3): the commit thread (main: the store transactions, write hooks, index rows, the
# deferred-index rebuild) bounds the wall rate on two cores; the reading thread parses,
# validates and prepares Bundles alongside it.
#
# Usage: bench/import_threads.sh BIN [BIN ...] [--patients N] [--per-bundle K]
#   e.g. before and after (17,605 resources; about 4 minutes per binary under callgrind):
#     bench/import_threads.sh /tmp/main/medalliance build/src/cli/medalliance --patients 400
# Runs `BIN import --db <fresh db> --synchronous full DATA` under
# `valgrind --tool=callgrind --separate-threads=yes` and prints, per binary, the commit and
# reading threads' instructions and the commit thread's inclusive instructions in the places
# doc/storage.md tabulates (millions). Data as bench/import_compare.sh (gen_patients.py,
# seed 1) in MA_BENCH_DIR (default ${TMPDIR:-/tmp}/medalliance-bench); the callgrind files stay
# in MA_BENCH_DIR/threads-<n>/ for callgrind_annotate.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib/data.sh
source "$ROOT/bench/lib/data.sh"
BENCH_DIR="${MA_BENCH_DIR:-${TMPDIR:-/tmp}/medalliance-bench}"
PATIENTS=400
PER_BUNDLE=10
BINS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --patients) PATIENTS="$2"; shift 2 ;;
    --per-bundle) PER_BUNDLE="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "import_threads.sh: unknown option $1" >&2; exit 64 ;;
    *) BINS+=("$1"); shift ;;
  esac
done
[[ ${#BINS[@]} -ge 1 ]] || { echo "import_threads.sh: need a binary; --help for usage" >&2; exit 64; }
command -v valgrind >/dev/null || { echo "import_threads.sh: valgrind is not installed" >&2; exit 1; }

DATA=$(patient_data "$BENCH_DIR" "$PATIENTS" "$PER_BUNDLE" 1)

PLACES=(
  "SqliteWriteTx::InsertIndexRows" "SqliteWriteTx::FlushBuffered" "RebuildIndexes" "ResourceWriter::RunHooks"
  "MarkHook::BeforeWrite" "PatientHook::BeforeWrite" "MemberReferenceHook::BeforeWrite"
  "SqliteWriteTx::PutVersion" "ForEachReference" "FormatInstant" "SqliteConnection::Prepare("
  "PreparedBundleDeleter" "fhir::operator=="
)
millions() { awk -v n="$1" 'BEGIN { printf "%.1f", n / 1e6 }'; }

n=0
for bin in "${BINS[@]}"; do
  n=$((n + 1))
  out="$BENCH_DIR/threads-$n"
  rm -rf "$out"
  mkdir -p "$out"
  echo "== $bin ($(uptime | sed 's/.*load/load/'))"
  valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$out/cg.%p" \
    "$bin" import --db "$out/import.db" --synchronous full "$DATA" 2>&1 | grep -E "^imported" || true
  commit=$(ls "$out"/cg.*-01)
  reading=""
  best=0
  for file in "$out"/cg.*-*; do
    [[ "$file" == "$commit" ]] && continue
    total=$(grep -m1 '^summary:' "$file" | awk '{print $2}')
    if [[ -n "$total" && "$total" -gt "$best" ]]; then best=$total; reading=$file; fi
  done
  printf "   %-36s %10s\n" "commit thread" "$(millions "$(grep -m1 '^summary:' "$commit" | awk '{print $2}')")"
  printf "   %-36s %10s\n" "reading thread" "$(millions "$best")"
  callgrind_annotate --inclusive=yes --threshold=100 "$commit" 2>/dev/null > "$out/inclusive.txt"
  for place in "${PLACES[@]}"; do
    value=$( (grep -F -- "$place" "$out/inclusive.txt" || true) | head -1 |
      awk '{gsub(",", "", $1); print $1}')
    printf "   %-36s %10s\n" "  $place" "$( [[ -n "$value" ]] && millions "$value" || echo -)"
  done
  rm -f "$out"/import.db*
done
