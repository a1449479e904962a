#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/CMakeLists.txt) and runs each for SECONDS (default 60),
# one at a time, then prints a summary. Usage: fuzz/run.sh [seconds] [target...]
#
# Environment: BUILD_DIR (default build-fuzz), CXX (default clang++-14), JOBS (default 2),
# RSS_LIMIT_MB (default 2048). Findings go to $BUILD_DIR/findings/<target>/, the corpus grown
# by a run to $BUILD_DIR/corpus/<target>/ (seeded from fuzz/corpus/<target>/, which is kept
# small and is not written to). Exit status 1 when any target found something.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECONDS_PER_TARGET="${1:-60}"
shift || true
BUILD_DIR="${BUILD_DIR:-$ROOT/build-fuzz}"
CXX_COMPILER="${CXX:-clang++-14}"
JOBS="${JOBS:-2}"
RSS_LIMIT_MB="${RSS_LIMIT_MB:-2048}"
ALL_TARGETS=(json_parse_fuzz validator_fuzz json_patch_fuzz datetime_fuzz query_fuzz rest_fuzz)
if [[ $# -gt 0 ]]; then TARGETS=("$@"); else TARGETS=("${ALL_TARGETS[@]}"); fi

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
  cmake -S "$ROOT/fuzz" -B "$BUILD_DIR" "${generator[@]}" -DCMAKE_CXX_COMPILER="$CXX_COMPILER" \
    >/dev/null || exit 2
else
  cmake "$BUILD_DIR" >/dev/null || exit 2  # re-glob src/ for new files
fi
cmake --build "$BUILD_DIR" -j "$JOBS" --target "${TARGETS[@]}" || exit 2

# Per-target libFuzzer options: inputs large enough for a few FHIR resources.
max_len() {
  case "$1" in
    rest_fuzz) echo 16384 ;;
    validator_fuzz | json_patch_fuzz | json_parse_fuzz) echo 8192 ;;
    *) echo 512 ;;
  esac
}

summary=()
failed=0
for target in "${TARGETS[@]}"; do
  seeds="$ROOT/fuzz/corpus/$target"
  work="$BUILD_DIR/corpus/$target"
  findings="$BUILD_DIR/findings/$target"
  log="$BUILD_DIR/logs/$target.log"
  mkdir -p "$work" "$findings" "$(dirname "$log")"
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

  # 1. Replay the reproducers of reported bugs (fuzz/corpus/<target>/regression-*) one by
  #    one: "open" while the bug is there, "fixed" once it passes (then it is a plain seed).
  open_regressions=" "
  for regression in "$seeds"/regression-*; do
    [[ -e "$regression" ]] || continue
    name="$(basename "$regression")"
    if "$BUILD_DIR/$target" -rss_limit_mb="$RSS_LIMIT_MB" -timeout=25 "$regression" \
        >"$BUILD_DIR/logs/$target.$name.log" 2>&1; then
      summary+=("$(printf '%-16s fixed  %s' "$target" "$name")")
    else
      failed=1
      open_regressions+="$name "
      summary+=("$(printf '%-16s open   %s (log: %s)' "$target" "$name" \
        "$BUILD_DIR/logs/$target.$name.log")")
    fi
  done

  # 2. Fuzz from the seeds minus the open regressions (they would stop the run at once).
  for seed in "$seeds"/*; do
    name="$(basename "$seed")"
    [[ "$open_regressions" == *" $name "* ]] && continue
    cp -f "$seed" "$work/seed-$name"
  done
  echo "== $target: ${SECONDS_PER_TARGET}s (log: $log)"
  "$BUILD_DIR/$target" "$work" \
      -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb="$RSS_LIMIT_MB" \
      -max_len="$(max_len "$target")" -timeout=25 -print_final_stats=1 \
      -artifact_prefix="$findings/" >"$log" 2>&1
  status=$?
  runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo "?")
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+' || echo "?")
  if [[ $status -eq 0 ]]; then
    summary+=("$(printf '%-16s ok     runs=%-9s cov=%s' "$target" "$runs" "$cov")")
  else
    failed=1
    kind=$(grep -Eo 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer): [a-z-]+|runtime error: .*|property violated: .*' \
      "$log" | head -1)
    artifact=$(grep -Eo 'Test unit written to [^ ]+' "$log" | tail -1 | sed 's/Test unit written to //')
    summary+=("$(printf '%-16s FOUND  %s\n                 input: %s' "$target" "$kind" "$artifact")")
  fi
done

echo
echo "== fuzz summary (${SECONDS_PER_TARGET}s per target)"
printf '%s\n' "${summary[@]}"
exit $failed
