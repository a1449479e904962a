#!/usr/bin/env bash
# What authorization and audit add to reads and searches, in instructions per request
# (callgrind): unlike wall-clock figures this does not move with the load of a shared machine.
# Self-contained like bench/access_overhead.sh (same generated data, fresh database, free
# ports): two servers run under valgrind on the same database, one `--auth none` and one
# `--auth smart` whose benchmark client acts for Organization/gz-central (its own records, the
# common case). For each mix the same request list (from what the client sees) is sent over one
# keep-alive connection, once to warm the caches, then again with instrumentation on; the whole
# server process's instructions (every thread) divided by the requests are reported, with the
# overhead auth vs none.
#
#   bench/access_instructions.sh [--patients 500] [--requests 300]
#                                [--mixes read-observation,search-observation] [--cache-sim]
# --cache-sim: callgrind's cache simulation as well (slower): adds the simulated first-level and
# last-level data cache misses (D1mr+D1mw, DLmr+DLmw) per request, a load-independent view of
# memory behaviour (the simulated caches take the host's sizes).
# Mixes as in access_overhead.sh: read-observation, read-patient, search-observation,
# search-patient. Environment: MA_BIN, MA_BENCH_DIR as for access_overhead.sh. Needs valgrind.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib/server.sh
source "$ROOT/bench/lib/server.sh"
# shellcheck source=bench/lib/data.sh
source "$ROOT/bench/lib/data.sh"
BIN="${MA_BIN:-$ROOT/${BUILD_DIR:-build}/src/cli/medalliance}"
BENCH_DIR="${MA_BENCH_DIR:-${TMPDIR:-/tmp}/medalliance-bench}"
PATIENTS=500
REQUESTS=300
MIXES="read-observation,search-observation"
CACHE_SIM=no
while [[ $# -gt 0 ]]; do
  case "$1" in
    --patients) PATIENTS="$2"; shift 2 ;;
    --requests) REQUESTS="$2"; shift 2 ;;
    --mixes) MIXES="$2"; shift 2 ;;
    --cache-sim) CACHE_SIM=yes; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "access_instructions.sh: unknown option $1" >&2; exit 64 ;;
  esac
done
for tool in valgrind callgrind_control python3 curl; do
  command -v "$tool" > /dev/null || { echo "access_instructions.sh: $tool not found" >&2; exit 1; }
done
[[ -x "$BIN" ]] || { echo "access_instructions.sh: no binary at $BIN" >&2; exit 1; }

mkdir -p "$BENCH_DIR"
DATA=$(patient_data "$BENCH_DIR" "$PATIENTS" 10 1)
SCRATCH="$(mktemp -d "$BENCH_DIR/access-ins.XXXXXX")"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2> /dev/null || true
    wait "$pid" 2> /dev/null || true
  done
  [[ -n "${MA_KEEP:-}" ]] || rm -rf "$SCRATCH"
}
trap cleanup EXIT

DB="$SCRATCH/access.db"
echo "== access instructions: $BIN ($(git -C "$ROOT" rev-parse --short HEAD 2> /dev/null || echo '?')), $PATIENTS patients, $REQUESTS requests per mix; load $(cut -d' ' -f1-3 /proc/loadavg)"
"$BIN" import --db "$DB" --synchronous normal "$DATA" > /dev/null

start() {
  local name=$1
  shift
  valgrind --tool=callgrind --instr-atstart=no --cache-sim="$CACHE_SIM" --callgrind-out-file="$SCRATCH/cg-$name.%p" \
    "$BIN" serve --listen 127.0.0.1:0 --db "$DB" --quiet --threads 2 "$@" \
    > "$SCRATCH/$name.out" 2> "$SCRATCH/$name.err" &
  PIDS+=($!)
  local port
  port=$(ERR_LOG="$SCRATCH/$name.err" wait_for_port "$SCRATCH/$name.out" "$!" 120)
  printf -v "PORT_$name" '%s' "$port"
}
start none --auth none
start smart --auth smart --token-lifetime 3600
PID_none=${PIDS[0]}
PID_smart=${PIDS[1]}
TOKEN=$("$ROOT/bench/auth/token.sh" "$BIN" "$DB" "http://127.0.0.1:$PORT_smart" "$SCRATCH")

# The request paths of each mix, from what the benchmark client sees.
MA_TOKEN="$TOKEN" python3 - "http://127.0.0.1:$PORT_smart" "$SCRATCH" "$REQUESTS" << 'PY'
import json, os, random, sys, urllib.parse, urllib.request
base, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def get(path):
    request = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + os.environ["MA_TOKEN"]})
    with urllib.request.urlopen(request, timeout=600) as answer:
        return json.load(answer)
def resources(path):
    return [e["resource"] for e in get(path).get("entry", []) if "resource" in e]
patients = resources("/Patient?_count=1000")
observations = resources("/Observation?_count=1000")
mrn = lambda p: next(i for i in p["identifier"] if "/sid/mrn/" in i.get("system", ""))
mixes = {
    "read-observation": ["/Observation/" + o["id"] for o in observations],
    "read-patient": ["/Patient/" + p["id"] for p in patients],
    "search-observation": ["/Observation?patient=" + p["id"] for p in patients],
    "search-patient": ["/Patient?identifier=" + urllib.parse.quote(mrn(p)["system"] + "|" + mrn(p)["value"], safe="")
                       for p in patients],
}
rng = random.Random(1)
for name, paths in mixes.items():
    with open(os.path.join(out, name + ".paths"), "w") as f:
        f.write("\n".join(rng.choice(paths) for _ in range(n)) + "\n")
PY

# drive PORT PATHS [TOKEN]: every path once over one keep-alive connection; fails on non-200.
drive() {
  python3 - "$@" << 'PY'
import http.client, sys
port, paths = int(sys.argv[1]), open(sys.argv[2]).read().split()
headers = {"Accept": "application/fhir+json"}
if len(sys.argv) > 3:
    headers["Authorization"] = "Bearer " + sys.argv[3]
connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
for path in paths:
    connection.request("GET", path, headers=headers)
    answer = connection.getresponse()
    answer.read()
    if answer.status != 200:
        sys.exit(f"access_instructions.sh: {path} answered {answer.status}")
PY
}

# measure NAME MIX [TOKEN]: instructions per request of server NAME on MIX.
measure() {
  local name=$1 mix=$2 pid port dump total
  pid=PID_$name
  port=PORT_$name
  drive "${!port}" "$SCRATCH/$mix.paths" ${3:+"$3"}
  callgrind_control -z "${!pid}" > /dev/null 2>&1
  callgrind_control -i on "${!pid}" > /dev/null 2>&1
  drive "${!port}" "$SCRATCH/$mix.paths" ${3:+"$3"}
  callgrind_control -i off "${!pid}" > /dev/null 2>&1
  callgrind_control -d "${!pid}" > /dev/null 2>&1
  dump=$(ls -t "$SCRATCH"/cg-"$name".*.* | head -1)
  # "events: Ir ..." names the columns of "totals: ..."; with --cache-sim prints
  # "instructions D1-misses LL-misses", else the instructions.
  total=$(awk -v n="$REQUESTS" '/^events:/ { for (i = 2; i <= NF; i++) col[$i] = i }
    /^totals:/ { if ("D1mr" in col) printf "%d %d %d\n", $col["Ir"] / n,
                   ($col["D1mr"] + $col["D1mw"]) / n, ($col["DLmr"] + $col["DLmw"]) / n
                 else printf "%d\n", $col["Ir"] / n; exit }' "$dump")
  cp "$dump" "$SCRATCH/../last-cg-$name-$mix.out" 2> /dev/null || true
  [[ -n "${MA_KEEP:-}" ]] || rm -f "$dump"
  echo "$total"
}

over() { awk -v n="$1" -v a="$2" 'BEGIN { printf "%+.1f", (n > 0 ? (a / n - 1) * 100 : 0) }'; }
if [[ "$CACHE_SIM" == yes ]]; then
  echo "| mix | --auth none instructions/request | --auth smart (own member) | overhead | D1 misses/request none / auth | LL misses/request none / auth |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: |"
else
  echo "| mix | --auth none instructions/request | --auth smart (own member) | overhead |"
  echo "| --- | ---: | ---: | ---: |"
fi
IFS=',' read -r -a MIX_LIST <<< "$MIXES"
for mix in "${MIX_LIST[@]}"; do
  read -r none none_d1 none_ll <<< "$(measure none "$mix")"
  read -r auth auth_d1 auth_ll <<< "$(measure smart "$mix" "$TOKEN")"
  if [[ "$CACHE_SIM" == yes ]]; then
    printf '| %s | %d | %d | %s%% | %d / %d (%s%%) | %d / %d (%s%%) |\n' "$mix" "$none" "$auth" \
      "$(over "$none" "$auth")" "$none_d1" "$auth_d1" "$(over "$none_d1" "$auth_d1")" \
      "$none_ll" "$auth_ll" "$(over "$none_ll" "$auth_ll")"
  else
    printf '| %s | %d | %d | %s%% |\n' "$mix" "$none" "$auth" "$(over "$none" "$auth")"
  fi
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
