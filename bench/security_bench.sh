#!/usr/bin/env bash
# Access rules + audit overhead on reads and searches (issue 4): runs build/bench/security_bench
# and prints the machine load next to the figures (the cores are shared).
# Usage: bench/security_bench.sh [patients-per-member] [rounds] [requests-per-round]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${MA_SECURITY_BENCH:-$ROOT/${BUILD_DIR:-build}/bench/security_bench}"
echo "load before: $(uptime)"
"$BIN" "$@"
echo "load after:  $(uptime)"
