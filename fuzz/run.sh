#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for SECONDS each, default 60:
#
#   fuzz/run.sh 60                      # all targets, a minute each
#   fuzz/run.sh 300 router open_job     # two targets, five minutes each
#
# Each target starts from its committed seeds (fuzz/seeds/<target>) and a
# working corpus kept in fuzz/target/corpus/<target>, which grows from run to
# run. A crash stops that target, leaves the input in fuzz/artifacts/<target>/
# and makes the script exit 1 after the others ran; reproduce it with
# `cargo fuzz run -s none -a <target> <file>`.
#
# Only the stable toolchain is here. Without a sanitizer (the default,
# FUZZ_SANITIZER=none) cargo fuzz works on stable as is; the project has no
# unsafe code, so AddressSanitizer adds little. FUZZ_SANITIZER=address
# needs nightly flags: the script sets RUSTC_BOOTSTRAP=1 for it (see
# docs/fuzzing.md).
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-60}"
shift || true
all=(protocol_decode reassembler open_job policy_check api_json router)
targets=("${@:-${all[@]}}")
[ $# -eq 0 ] && targets=("${all[@]}")
sanitizer="${FUZZ_SANITIZER:-none}"
if [ "$sanitizer" != none ]; then
  export RUSTC_BOOTSTRAP=1
fi
flags=(-s "$sanitizer" --debug-assertions)

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "==> cargo install cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

echo "==> cargo fuzz build ${flags[*]}"
cargo fuzz build "${flags[@]}"

failed=()
for target in "${targets[@]}"; do
  corpus="target/corpus/$target"
  mkdir -p "$corpus" "seeds/$target"
  log="target/$target.log"
  options=(-max_total_time="$seconds" -rss_limit_mb=4096 -timeout=20 -print_final_stats=1)
  [ -f "dicts/$target.dict" ] && options+=(-dict="dicts/$target.dict")
  echo "==> $target for ${seconds}s"
  if cargo fuzz run "${flags[@]}" "$target" "$corpus" "seeds/$target" -- "${options[@]}" >"$log" 2>&1; then
    runs=$(grep -m1 '^stat::number_of_executed_units' "$log" | awk '{print $2}')
    cov=$(grep -E '^#[0-9]+.*cov:' "$log" | tail -1 | sed -E 's/.*cov: ([0-9]+).*/\1/')
    echo "    ok: ${runs:-?} inputs, coverage ${cov:-?} edges, corpus $(ls "$corpus" | wc -l) files"
  else
    echo "    CRASH: see $log and artifacts/$target/"
    grep -E 'panicked|ERROR|SUMMARY' "$log" | head -5 | sed 's/^/    /'
    failed+=("$target")
  fi
done

if ((${#failed[@]})); then
  echo "==> crashed: ${failed[*]}"
  exit 1
fi
echo "==> no target crashed"
