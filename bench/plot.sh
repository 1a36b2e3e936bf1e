#!/usr/bin/env bash
# Draws the figures of docs/performance.md (docs/performance/*.svg) from the
# benchmarks' results in target/bench/results/ (or KEYWAY_BENCH_RESULTS):
#
#   bench/growth.sh sqlite                                   # growth-sqlite.jsonl
#   bench/growth.sh postgres                                 # growth-postgres.jsonl
#   cargo bench -p keyway-testkit --bench tap_to_active      # tap-to-active.json
#   cargo bench -p keyway-ble-sim --bench delivery           # delivery.json
#   bench/plot.sh
#
# A figure whose results are missing is not drawn; the message names the
# command that makes them. Rerun a benchmark, then this, to redraw.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
results="${KEYWAY_BENCH_RESULTS:-$target/bench/results}"
exec cargo run -q -p keyway-plot -- --results "$results" --out docs/performance
