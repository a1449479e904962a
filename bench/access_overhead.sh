#!/usr/bin/env bash
# What authorization and audit add to reads and searches over HTTP (issue 4 requirement: at most
# 10% at the alliance's load). Self-contained: generates the patient data (bench/gen_patients.py),
# imports it into a fresh temporary database, and starts two servers on that database on free
# ports: one `--auth none`, one `--auth smart` whose benchmark client acts for the data-owning
# member Organization/gz-central (bench/auth/token.sh), so it reads its own members' records (the
# common case; own reads are not audited). The request lists are taken from what that member
# sees, so both servers answer the same requests:
#   read-observation   GET /Observation/<id>                  (1000 random ids)
#   read-patient       GET /Patient/<id>
#   search-observation GET /Observation?patient=<id>          (about 30 rows each)
#   search-patient     GET /Patient?identifier=<mrn system>|<mrn>
# Both servers speed up for about a minute of their own traffic (SQLite's page cache of each
# reader connection, the OS page cache, the access caches), and that warming was as large as the
# overhead measured. So the warm-up (not counted) runs each mix on each server in 5 s runs until
# its req/s stops rising (less than 3% above the run before, after at least --warmup-min-runs
# runs, 3 by default, so that one noisy run does not end it; at most --warmup-runs runs, 12 by
# default), alternating which server warms first from mix to mix. Then each round runs every
# mix on both servers back to back (`wrk -t2 -c<C> -d<D> --latency`), alternating which goes
# first from round to round.
# Three overheads per round, auth vs none: the p50 latency (wrk --latency); the mean latency
# from the throughput (C / req/s; wrk is a closed loop); the server's CPU time per request
# (utime + stime of /proc/PID/stat over the run / requests), the robust one on a loaded machine
# (wrk, other processes and the two servers share the cores). Prints each round, then the
# median over rounds per mix with the load average, one "OVERHEAD <mix> p50 X% mean Y% cpu Z%"
# line per mix, and whether every median p50 and mean overhead is <= 10%.
# For the callgrind (load-independent) figure see bench/access_instructions.sh.
#
#   bench/access_overhead.sh [--patients 2000] [--rounds 5] [--duration 10s] [--connections 32]
#                            [--mixes read-observation,read-patient,search-observation,search-patient]
#                            [--warmup-runs 12] [--warmup-min-runs 3] [--warmup-duration 5s]
#                            [--perf DIR]
# --perf DIR: after the rounds, samples each server with `perf record -F 999 -g` (cpu-clock)
# during one more run of each mix and writes DIR/<mix>-<none|auth>.data and the top symbols
# (self time) DIR/<mix>-<none|auth>.txt, to compare where the two servers' time goes.
# Environment: MA_BIN (the medalliance binary; default build/src/cli/medalliance), MA_BENCH_DIR
# (default /tmp/medalliance-bench; the generated data is kept there between runs),
# MA_SERVER_THREADS (server --threads).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib/server.sh
source "$ROOT/bench/lib/server.sh"
# shellcheck source=bench/lib/data.sh
source "$ROOT/bench/lib/data.sh"
BIN="${MA_BIN:-$ROOT/${BUILD_DIR:-build}/src/cli/medalliance}"
BENCH_DIR="${MA_BENCH_DIR:-${TMPDIR:-/tmp}/medalliance-bench}"
PATIENTS=2000
ROUNDS=5
DURATION=10s
CONNS=32
MIXES="read-observation,read-patient,search-observation,search-patient"
WARMUP_RUNS=12
WARMUP_MIN_RUNS=3
WARMUP_DURATION=5s
PERF_DIR=
while [[ $# -gt 0 ]]; do
  case "$1" in
    --patients) PATIENTS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --connections) CONNS="$2"; shift 2 ;;
    --mixes) MIXES="$2"; shift 2 ;;
    --warmup-runs) WARMUP_RUNS="$2"; shift 2 ;;
    --warmup-min-runs) WARMUP_MIN_RUNS="$2"; shift 2 ;;
    --warmup-duration) WARMUP_DURATION="$2"; shift 2 ;;
    --perf) PERF_DIR="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "access_overhead.sh: unknown option $1" >&2; exit 64 ;;
  esac
done
for tool in wrk python3 curl; do
  command -v "$tool" > /dev/null || { echo "access_overhead.sh: $tool not found" >&2; exit 1; }
done
[[ -x "$BIN" ]] || { echo "access_overhead.sh: no binary at $BIN (build first, or set MA_BIN)" >&2; exit 1; }

mkdir -p "$BENCH_DIR"
DATA=$(patient_data "$BENCH_DIR" "$PATIENTS" 10 1)
SCRATCH="$(mktemp -d "$BENCH_DIR/access.XXXXXX")"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2> /dev/null || true
    wait "$pid" 2> /dev/null || true
  done
  rm -rf "$SCRATCH"
}
trap cleanup EXIT
load() { cut -d' ' -f1-3 /proc/loadavg; }

DB="$SCRATCH/access.db"
echo "== access overhead: $PATIENTS patients from $DATA; $(nproc) cores; load $(load)"
"$BIN" import --db "$DB" --synchronous normal "$DATA" | sed 's/^/   /'

# start NAME ARGS...: starts a server, sets PORT_<NAME>.
start() {
  local name=$1
  shift
  local args=(serve --listen 127.0.0.1:0 --db "$DB" --quiet "$@")
  [[ -n "${MA_SERVER_THREADS:-}" ]] && args+=(--threads "$MA_SERVER_THREADS")
  "$BIN" "${args[@]}" > "$SCRATCH/$name.out" 2> "$SCRATCH/$name.err" &
  PIDS+=($!)
  local port
  port=$(ERR_LOG="$SCRATCH/$name.err" wait_for_port "$SCRATCH/$name.out" "$!" 10)
  printf -v "PORT_$name" '%s' "$port"
}
start none --auth none
start smart --auth smart --token-lifetime 3600
BASE_NONE="http://127.0.0.1:$PORT_none"
BASE_AUTH="http://127.0.0.1:$PORT_smart"
TOKEN=$("$ROOT/bench/auth/token.sh" "$BIN" "$DB" "$BASE_AUTH" "$SCRATCH")
echo "   servers: none $BASE_NONE, smart $BASE_AUTH (client bench for ${MA_BENCH_ORG:-Organization/gz-central})"

# The request paths of each mix, from what the benchmark client sees.
MA_TOKEN="$TOKEN" python3 - "$BASE_AUTH" "$SCRATCH" << 'EOF'
import json, os, random, sys, urllib.parse, urllib.request
base, out = sys.argv[1], sys.argv[2]
token = os.environ["MA_TOKEN"]
def get(path):
    request = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(request, timeout=120) as answer:
        return json.load(answer)
def resources(path):
    return [e["resource"] for e in get(path).get("entry", []) if "resource" in e]
patients = resources("/Patient?_count=1000")
observations = resources("/Observation?_count=1000")
if not patients or not observations:
    sys.exit("access_overhead.sh: the benchmark client sees no Patient or Observation")
mrn = lambda p: next(i for i in p["identifier"] if "/sid/mrn/" in i.get("system", ""))
mixes = {
    "read-observation": ["/Observation/" + o["id"] for o in observations],
    "read-patient": ["/Patient/" + p["id"] for p in patients],
    "search-observation": ["/Observation?patient=" + p["id"] for p in patients],
    "search-patient": ["/Patient?identifier=" + urllib.parse.quote(mrn(p)["system"] + "|" + mrn(p)["value"], safe="")
                       for p in patients],
}
# Every path must answer 200 with the same body size class on both servers: check a sample.
for name, paths in mixes.items():
    with open(os.path.join(out, name + ".paths"), "w") as f:
        f.write("\n".join(paths) + "\n")
    for path in random.Random(1).sample(paths, min(5, len(paths))):
        body = get(path)
        if body.get("resourceType") == "Bundle" and not body.get("entry"):
            sys.exit(f"access_overhead.sh: {path} finds nothing for the benchmark client")
print("   " + ", ".join(f"{len(p)} {n}" for n, p in mixes.items()))
EOF

# lua NAME TOKEN: a wrk script requesting random paths of the mix.
lua() {
  local name=$1 token=$2 file="$SCRATCH/$1-$3.lua"
  {
    echo "local paths = {"
    sed 's/.*/  "&",/' "$SCRATCH/$name.paths"
    echo "}"
    if [[ -n "$token" ]]; then
      echo "local headers = {[\"Accept\"] = \"application/fhir+json\", [\"Authorization\"] = \"Bearer $token\"}"
    else
      echo "local headers = {[\"Accept\"] = \"application/fhir+json\"}"
    fi
    cat << 'EOF'
local counter = 0
function setup(thread) counter = counter + 1; thread:set("seed", counter) end
function init(args) math.randomseed(seed * 7919 + os.time()) end
function request() return wrk.format("GET", paths[math.random(#paths)], headers) end
EOF
  } > "$file"
  echo "$file"
}

# CPU clock ticks (user + system) used so far by process PID.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
TICK_US=$((1000000 / $(getconf CLK_TCK)))

# run BASE SCRIPT PID [DURATION]: prints "req/s cpu-us-per-request p50-us", failing on errors.
run() {
  local out before after
  before=$(ticks "$3")
  out=$(wrk -t2 -c"$CONNS" -d"${4:-$DURATION}" --latency -s "$2" "$1")
  after=$(ticks "$3")
  if grep -q "Non-2xx\|Socket errors" <<< "$out"; then
    echo "access_overhead.sh: errors under load on $1:" >&2
    echo "$out" >&2
    exit 1
  fi
  awk -v cpu=$(((after - before) * TICK_US)) '/^Requests\/sec:/ { rps = $2 }
    / requests in / { n = $1 }
    /^ +50% / { v = $2; f = 1; if (v ~ /us$/) f = 1; else if (v ~ /ms$/) f = 1000; else if (v ~ /s$/) f = 1000000
                sub(/[a-z]+$/, "", v); p50 = v * f }
    END { printf "%s %.1f %.1f\n", rps, cpu / n, p50 }' <<< "$out"
}

IFS=',' read -r -a MIX_LIST <<< "$MIXES"
PID_NONE=${PIDS[0]}
PID_AUTH=${PIDS[1]}
# warm NAME BASE SCRIPT PID: runs the mix until req/s stops rising; prints what it took.
warm() {
  local previous=0 rps runs
  for ((runs = 1; runs <= WARMUP_RUNS; runs++)); do
    read -r rps _ _ <<< "$(run "$2" "$3" "$4" "$WARMUP_DURATION")"
    ((runs >= WARMUP_MIN_RUNS)) &&
      awk -v p="$previous" -v r="$rps" 'BEGIN { exit !(p > 0 && r < p * 1.03) }' && break
    previous=$rps
  done
  printf ' %s %d runs (%.0f req/s);' "$1" "$((runs > WARMUP_RUNS ? WARMUP_RUNS : runs))" "$rps"
}
echo "   warm-up: each mix on each server in $WARMUP_DURATION runs until req/s stops rising (< 3% up, $WARMUP_MIN_RUNS to $WARMUP_RUNS runs)"
warm_order=0
for mix in "${MIX_LIST[@]}"; do
  printf '   %s:' "$mix"
  if ((warm_order++ % 2)); then
    warm auth "$BASE_AUTH" "$(lua "$mix" "$TOKEN" auth)" "$PID_AUTH"
    warm none "$BASE_NONE" "$(lua "$mix" "" none)" "$PID_NONE"
  else
    warm none "$BASE_NONE" "$(lua "$mix" "" none)" "$PID_NONE"
    warm auth "$BASE_AUTH" "$(lua "$mix" "$TOKEN" auth)" "$PID_AUTH"
  fi
  echo " load $(load)"
done
declare -A OVER CPU P50 LOADS
echo
echo "| round | mix | none req/s | auth req/s | latency overhead | none p50 us | auth p50 us | p50 overhead | none CPU us/req | auth CPU us/req | CPU overhead | load |"
echo "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
for ((round = 1; round <= ROUNDS; round++)); do
  for mix in "${MIX_LIST[@]}"; do
    none_script=$(lua "$mix" "" none)
    auth_script=$(lua "$mix" "$TOKEN" auth)
    before=$(load)
    if ((round % 2)); then
      read -r none none_cpu none_p50 <<< "$(run "$BASE_NONE" "$none_script" "$PID_NONE")"
      read -r auth auth_cpu auth_p50 <<< "$(run "$BASE_AUTH" "$auth_script" "$PID_AUTH")"
    else
      read -r auth auth_cpu auth_p50 <<< "$(run "$BASE_AUTH" "$auth_script" "$PID_AUTH")"
      read -r none none_cpu none_p50 <<< "$(run "$BASE_NONE" "$none_script" "$PID_NONE")"
    fi
    over=$(awk -v n="$none" -v a="$auth" 'BEGIN { printf "%.1f", (n / a - 1) * 100 }')
    cpu=$(awk -v n="$none_cpu" -v a="$auth_cpu" 'BEGIN { printf "%.1f", (a / n - 1) * 100 }')
    p50=$(awk -v n="$none_p50" -v a="$auth_p50" 'BEGIN { printf "%.1f", (a / n - 1) * 100 }')
    OVER[$mix]+="$over "
    CPU[$mix]+="$cpu "
    P50[$mix]+="$p50 "
    LOADS[$mix]+="${before%% *} "
    printf '| %d | %s | %.0f | %.0f | %s%% | %s | %s | %s%% | %s | %s | %s%% | %s |\n' "$round" "$mix" \
      "$none" "$auth" "$over" "$none_p50" "$auth_p50" "$p50" "$none_cpu" "$auth_cpu" "$cpu" "$before"
  done
done

median() {
  tr ' ' '\n' <<< "$1" | grep -v '^$' | sort -g |
    awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
echo
echo "| mix | median p50 overhead | median mean-latency overhead | median CPU/request overhead | rounds | load (1 min) over rounds |"
echo "| --- | ---: | ---: | ---: | ---: | --- |"
MET=1
for mix in "${MIX_LIST[@]}"; do
  lat=$(median "${OVER[$mix]}")
  cpu=$(median "${CPU[$mix]}")
  p50=$(median "${P50[$mix]}")
  printf '| %s | %s%% | %s%% | %s%% | %d | %s|\n' "$mix" "$p50" "$lat" "$cpu" "$ROUNDS" "${LOADS[$mix]}"
  printf 'OVERHEAD %s p50 %s%% mean %s%% cpu %s%%\n' "$mix" "$p50" "$lat" "$cpu" >> "$SCRATCH/summary"
  awk -v m="$p50" -v l="$lat" 'BEGIN { exit !(m > 10 || l > 10) }' && MET=0
done
echo
cat "$SCRATCH/summary"
echo "load average at end: $(load); wrk -t2 -c$CONNS -d$DURATION; $(nproc) cores shared with the servers"
if [[ -n "$PERF_DIR" ]]; then
  mkdir -p "$PERF_DIR"
  # profile NAME BASE SCRIPT PID MIX: one run of the mix with perf attached to the server.
  profile() {
    perf record -F 999 -g -e cpu-clock -o "$PERF_DIR/$5-$1.data" -p "$4" 2> /dev/null &
    local perf_pid=$!
    sleep 0.5
    run "$2" "$3" "$4" > /dev/null
    kill -INT "$perf_pid"
    wait "$perf_pid" 2> /dev/null || true
    perf report -i "$PERF_DIR/$5-$1.data" --no-children -g none --sort symbol --percent-limit 0.3 \
      --stdio > "$PERF_DIR/$5-$1.report" 2> /dev/null || true
    grep '%' "$PERF_DIR/$5-$1.report" | grep -v '^#' | sed 's/[ -]*$//' | cut -c1-160 |
      awk 'NR <= 40' > "$PERF_DIR/$5-$1.txt"
  }
  for mix in "${MIX_LIST[@]}"; do
    profile none "$BASE_NONE" "$(lua "$mix" "" none)" "$PID_NONE" "$mix"
    profile auth "$BASE_AUTH" "$(lua "$mix" "$TOKEN" auth)" "$PID_AUTH" "$mix"
  done
  echo "perf profiles (load $(load)): $PERF_DIR/<mix>-<none|auth>.txt"
fi
if ((MET)); then echo "target <= 10% (p50 and mean latency) for every mix: met"; else echo "target <= 10% (p50 and mean latency) for every mix: NOT met"; fi
