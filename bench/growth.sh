#!/usr/bin/env bash
# Sync latency as the database grows: the same property shape (10 codes a
# unit, so 100 to 100,000 units) at 1,000, 10,000, 100,000 and 1,000,000
# codes, on SQLite or PostgreSQL. A delta costs what changed, so the
# incremental syncs must stay flat.
#
#   bench/growth.sh sqlite|postgres [SECONDS]      # default 10 s a scenario
#
# KEYWAY_BENCH_SIZES="1000 10000 100000" measures fewer sizes (the million
# takes SQLite about 14 minutes to seed). The series is written to
# target/bench/results/growth-BACKEND.jsonl, one JSON line per size and
# scenario, started anew by each run; bench/plot.sh draws it.
set -euo pipefail
cd "$(dirname "$0")"
backend="${1:?usage: bench/growth.sh sqlite|postgres [SECONDS]}"
seconds="${2:-10}"
sizes="${KEYWAY_BENCH_SIZES:-1000 10000 100000 1000000}"
# The target directory as load.sh finds it (it runs cargo from the root).
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$(cd .. && pwd)/$target" ;; esac
mkdir -p "$target/bench/results"
series="$target/bench/results/growth-$backend.jsonl"
: >"$series"
for codes in $sizes; do
  KEYWAY_BENCH_SCENARIOS="sync-resident-current sync-resident-first sync-manager-delta" \
    KEYWAY_BENCH_SERIES="$series" ./load.sh "$backend" $((codes / 10)) "$codes" "$seconds"
done
echo "series: $series" >&2
