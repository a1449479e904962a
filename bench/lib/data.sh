# shellcheck shell=bash
# Sourced by the benchmark scripts that use the generated patient data (bench/gen_patients.py).
#
# patient_data DIR PATIENTS PER_BUNDLE SEED: prints the folder DIR/data-p<N>-b<K>-s<S> after
# generating it when it is not complete yet (a `.complete` marker is written last, so an
# interrupted generation is redone). The generator's own output goes to stderr.
patient_data() {
  local dir="$1" patients="$2" per_bundle="$3" seed="$4"
  local data="$dir/data-p${patients}-b${per_bundle}-s${seed}"
  if [[ ! -f "$data/.complete" ]]; then
    rm -rf "$data"
    mkdir -p "$dir"
    python3 "$(dirname "${BASH_SOURCE[0]}")/../gen_patients.py" --patients "$patients" \
      --per-bundle "$per_bundle" --seed "$seed" --out "$data" >&2
    touch "$data/.complete"
  fi
  echo "$data"
}
