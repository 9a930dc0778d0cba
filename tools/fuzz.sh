#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer + AddressSanitizer) of every parser of untrusted bytes.
#
#   ./tools/fuzz.sh              every target for NEDB_FUZZ_SECONDS (default 15) seconds each (CI)
#   ./tools/fuzz.sh --long       every target for an hour each (or NEDB_FUZZ_SECONDS)
#   ./tools/fuzz.sh json nql     only these targets
#
# Seeds come from fixtures/ and spec/vectors/; corpora grow in .build-fuzz/corpus/TARGET (kept
# between runs). A crash, leak or timeout stops the run with libFuzzer's report and the input in
# .build-fuzz/artifacts/; copy it into tools/fuzz/regressions/TARGET/ so the test suite replays it
# (`nedb-fuzz TARGET FILE…` replays inputs in an ordinary build). Prints the run counts.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${NEDB_FUZZ_SECONDS:-15}"
targets=()
for arg in "$@"; do
  case "$arg" in
    --long) seconds="${NEDB_FUZZ_SECONDS:-3600}" ;;
    -h|--help) sed -n 2,11p "$0"; exit 0 ;;
    *) targets+=("$arg") ;;
  esac
done
[ ${#targets[@]} -eq 0 ] && targets=(record segment block manifest replay keys checkpoint proof note json nql)
./tools/setup.sh
scratch=.build-fuzz
swift build -Xswiftc -sanitize=fuzzer,address -Xswiftc -DNEDB_FUZZ --scratch-path "$scratch" --product nedb-fuzz
fuzzer="$scratch/debug/nedb-fuzz"
seeds="$scratch/seeds"
rm -rf "$seeds"
python3 tools/fuzz_seeds.py "$seeds"
mkdir -p "$scratch/artifacts"
summary=()
for t in "${targets[@]}"; do
  corpus="$scratch/corpus/$t"
  mkdir -p "$corpus" "$seeds/$t"
  log="$scratch/artifacts/$t.log"
  max_len=65536
  case "$t" in json|nql|note|replay|manifest|keys) max_len=8192 ;; esac
  echo "fuzzing $t for ${seconds}s"
  if ! NEDB_FUZZ_TARGET="$t" SWIFT_BACKTRACE=enable=no ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1" \
      "$fuzzer" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$scratch/artifacts/$t-" "$corpus" "$seeds/$t" > "$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz target $t FAILED (report above; input in $scratch/artifacts/)" >&2
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  summary+=("$t: $runs runs, 0 crashes")
done
printf 'fuzzing done (%ss per target):\n' "$seconds"
printf '  %s\n' "${summary[@]}"
