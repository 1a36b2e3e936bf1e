#!/usr/bin/env bash
# The server load benchmark: a release build of keyway-server on SQLite or
# PostgreSQL, a property seeded with `admin seed`, and wrk (Debian's package)
# as the load. Prints one line per scenario: requests per second, p50, p99.
#
#   bench/load.sh sqlite   [UNITS] [CODES] [SECONDS]    # default 10000 100000 20
#   bench/load.sh postgres [UNITS] [CODES] [SECONDS]
#
# Each scenario is also written as one JSON line (backend, units, codes,
# scenario, requests_per_sec, p50_ms, p90_ms, p99_ms, non_2xx, the run's
# settings, commit, date) to target/bench/results/load-BACKEND.jsonl, started
# anew by each run; with KEYWAY_BENCH_SERIES=FILE the lines are appended to
# FILE instead (bench/growth.sh builds its series so). bench/plot.sh draws them.
#
# PostgreSQL: a private cluster with PostgreSQL's default (durable) settings,
# started with `cargo xtask pg start --durable` unless KEYWAY_BENCH_PG_URL
# names a server. Scenarios (wrk -t2 -c16, after a 3 s warm-up):
#   healthz                `GET /healthz` (one `SELECT 1`): the floor of a
#                          request, for comparing sync with in the same run
#   sync-resident-current  residents (rotating over all units) asking for
#                          changes with an up-to-date cursor: the usual poll
#   sync-resident-first    residents' first sync, no cursor: their unit's codes
#   sync-manager-delta     a manager's sync with a cursor 20 changes behind
#   create-guest           residents creating generated guest codes
set -euo pipefail
cd "$(dirname "$0")/.."

backend="${1:?usage: bench/load.sh sqlite|postgres [UNITS] [CODES] [SECONDS]}"
units="${2:-10000}"
codes="${3:-100000}"
seconds="${4:-20}"
threads="${KEYWAY_BENCH_THREADS:-2}"
connections="${KEYWAY_BENCH_CONNECTIONS:-16}"

scenarios="${KEYWAY_BENCH_SCENARIOS:-healthz sync-resident-current sync-resident-first sync-manager-delta create-guest}"

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
cargo build --release -q -p keyway-server
root="$PWD"
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
bin="$target/release/keyway-server"
work="$target/bench/$backend-$units-$codes"
results="$target/bench/results"
mkdir -p "$results"
series="${KEYWAY_BENCH_SERIES:-}"
if [ -z "$series" ]; then
  series="$results/load-$backend.jsonl"
  : >"$series"
fi
commit=$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)
rm -rf "$work"
mkdir -p "$work"
cd "$work"

export KEYWAY_LOG=warn
case "$backend" in
  sqlite)
    export KEYWAY_DATABASE="$work/keyway.sqlite"
    ;;
  postgres)
    base="${KEYWAY_BENCH_PG_URL:-}"
    if [ -z "$base" ]; then
      base=$(cd "$root" && cargo xtask pg start --durable | tail -1)
    fi
    db="bench_$(date +%s)_$$"
    psql -q "$base" -c "CREATE DATABASE $db"
    export KEYWAY_DATABASE="${base/\/postgres\?//$db?}"
    export KEYWAY_DATA_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
    # Kept beside the results, to serve the same database again by hand.
    (umask 077; echo "$KEYWAY_DATA_KEY" > data.key; echo "$KEYWAY_DATABASE" > database.url)
    ;;
  *) echo "backend is sqlite or postgres" >&2; exit 2 ;;
esac

started=$(date +%s%N)
seeded=$("$bin" admin --json seed --units "$units" --codes "$codes" --tokens-out tokens.txt)
echo "seeded in $((($(date +%s%N) - started) / 1000000)) ms: $seeded" >&2
property=$(echo "$seeded" | sed -E 's/.*"property_id":"([^"]+)".*/\1/')
manager=$("$bin" admin --json user create --property "$property" --name Manager --role manager \
  | sed -E 's/.*"token":"([^"]+)".*/\1/')

port=$((20000 + RANDOM % 20000))
"$bin" serve --listen "127.0.0.1:$port" --sweep-interval-secs 3600 2>server.log &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
  sleep 0.1
done
url="http://127.0.0.1:$port"

# 20 changes by 20 residents, so the manager's delta holds 20 changes.
sed -n '1,20p' tokens.txt | while read -r _ token; do
  curl -sf -o /dev/null -X POST "$url/v1/codes" -H "Authorization: Bearer $token" \
    -H "Idempotency-Key: setup-$RANDOM$RANDOM" -H 'Content-Type: application/json' \
    -d '{"kind":"guest","mode":"generate"}'
done
# The head of the change counter, as a resident's first sync reports it.
first=$(sed -n '1p' tokens.txt | cut -d' ' -f2)
now_seq=$(curl -sf "$url/v1/sync" -H "Authorization: Bearer $first" | sed -E 's/.*"cursor":"([0-9]+)".*/\1/')

scenario() {
  local name=$1; shift
  case " $scenarios " in *" $name "*) ;; *) return 0 ;; esac
  env "$@" wrk -t"$threads" -c"$connections" -d3s -s "$root/bench/keyway.lua" "$url" >/dev/null
  env "$@" wrk -t"$threads" -c"$connections" -d"${seconds}s" --latency -s "$root/bench/keyway.lua" "$url" >"$name.txt"
  local rps p50 p99 errors
  rps=$(awk '/^Requests\/sec/ {print $2}' "$name.txt")
  p50=$(awk '$1 == "50%" {print $2}' "$name.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$name.txt")
  errors=$(awk '/Non-2xx/ {print $NF}' "$name.txt")
  printf '%-8s %8s units %8s codes  %-22s %9s req/s  p50 %8s  p99 %8s  non-2xx %s\n' \
    "$backend" "$units" "$codes" "$name" "$rps" "$p50" "$p99" "${errors:-0}"
  # The same figures as one JSON line, latencies in milliseconds (wrk prints
  # us, ms or s); a figure wrk did not print is null.
  awk -v backend="$backend" -v units="$units" -v codes="$codes" -v scenario="$name" \
    -v seconds="$seconds" -v threads="$threads" -v connections="$connections" \
    -v commit="$commit" -v date="$(date -u +%Y-%m-%dT%H:%M:%SZ)" '
    function ms(v) {
      if (v ~ /us$/) return v / 1000
      if (v ~ /ms$/) return v + 0
      if (v ~ /m$/) return v * 60000
      if (v ~ /s$/) return v * 1000
      return "null"
    }
    /^Requests\/sec/ { rps = $2 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "90%" { p90 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    /Non-2xx/ { errors = $NF }
    END {
      printf "{\"backend\":\"%s\",\"units\":%d,\"codes\":%d,\"scenario\":\"%s\",", backend, units, codes, scenario
      printf "\"requests_per_sec\":%s,\"p50_ms\":%s,\"p90_ms\":%s,\"p99_ms\":%s,\"non_2xx\":%d,", \
        (rps == "" ? "null" : rps), (p50 == "" ? "null" : p50), (p90 == "" ? "null" : p90), (p99 == "" ? "null" : p99), errors
      printf "\"seconds\":%d,\"threads\":%d,\"connections\":%d,\"commit\":\"%s\",\"date\":\"%s\"}\n", seconds, threads, connections, commit, date
    }' "$name.txt" >>"$series"
}

scenario healthz KEYWAY_MODE=healthz
scenario sync-resident-current KEYWAY_MODE=sync KEYWAY_TOKENS=tokens.txt KEYWAY_CURSOR="$now_seq"
scenario sync-resident-first KEYWAY_MODE=sync KEYWAY_TOKENS=tokens.txt
scenario sync-manager-delta KEYWAY_MODE=sync KEYWAY_TOKEN="$manager" KEYWAY_CURSOR="$((now_seq - 20))"
scenario create-guest KEYWAY_MODE=create KEYWAY_TOKENS=tokens.txt
