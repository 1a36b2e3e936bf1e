#!/usr/bin/env bash
# Sync latency as the database grows: the same property shape (10 codes a
# unit, so 100 to 100,000 units) at 1,000, 10,000, 100,000 and 1,000,000
# codes, on SQLite or PostgreSQL. A delta costs what changed, so the
# incremental syncs must stay flat.
#
#   bench/growth.sh sqlite|postgres [SECONDS]      # default 10 s a scenario
set -euo pipefail
cd "$(dirname "$0")"
backend="${1:?usage: bench/growth.sh sqlite|postgres [SECONDS]}"
seconds="${2:-10}"
for codes in 1000 10000 100000 1000000; do
  KEYWAY_BENCH_SCENARIOS="sync-resident-current sync-resident-first sync-manager-delta" \
    ./load.sh "$backend" $((codes / 10)) "$codes" "$seconds"
done
