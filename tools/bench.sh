#!/usr/bin/env bash
# The benchmark harness (issue 7). Sets up the peers — SQLite through Debian's libsqlite3 (linked
# into nedb-bench) and the original NEDB package (`pip install nedb-engine`, pure-Python engine and
# Rust core) in a throwaway virtual environment — then runs the engine workloads in interleaved
# rounds (NEDB and SQLite in one process, alternating; then the Python peers; repeat), the other
# nedb-bench suites, and writes the summary into BENCHMARKS.md (or --out FILE).
#
#   ./tools/bench.sh            full run (100,000 documents, 5 rounds, 1 GiB verification store)
#   ./tools/bench.sh --quick    one-minute smoke run (what CI runs; writes to a temporary file)
set -euo pipefail
cd "$(dirname "$0")/.."
quick=""; out="BENCHMARKS.md"; rounds=5; count=100000
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick="--quick"; rounds=3; count=10000; out="${out_set:-$(mktemp --suffix=.md)}" ;;
    --out) out="$2"; out_set="$2"; shift ;;
    *) echo "usage: tools/bench.sh [--quick] [--out FILE]" >&2; exit 2 ;;
  esac
  shift
done
./tools/setup.sh
swift build -c release --product nedb-bench
bench="$(swift build -c release --show-bin-path)/nedb-bench"
work="$(mktemp -d "${NEDB_BENCH_DIR:-/tmp}/nedb-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export NEDB_BENCH_DIR="$work"

note=""
python="$work/venv/bin/python"
if python3 -m venv "$work/venv" >/dev/null 2>&1 && "$work/venv/bin/pip" install -q nedb-engine >/dev/null 2>&1; then
  echo "peer: nedb-engine $("$python" -c 'import nedb; print(nedb.__version__)')" >&2
else
  echo "peer: nedb-engine could not be installed (no python3-venv or no network); continuing without it" >&2
  note="The nedb-engine peer could not be installed for this run."
  python=""
fi

"$bench" dataset "$count" "$work/dataset" $quick
results="$work/results.jsonl"
for round in $(seq 0 $((rounds - 1))); do
  echo "round $((round + 1)) of $rounds" >&2
  "$bench" engine $quick --rounds 1 --round-base "$round" --json "$results" >/dev/null
  if [ -n "$python" ]; then
    "$python" tools/bench_peer.py --dataset "$work/dataset" --scratch "$work/peer" --round "$round" --json "$results" 2>>"$work/peer.log" >/dev/null
  fi
done
"$bench" format store state tools $quick > "$work/tables.md"
python3 tools/bench_report.py --results "$results" --tables "$work/tables.md" --out "$out" \
  --note "${note}${quick:+ Quick mode (smoke run): small data, few rounds — not for comparison.}"
cat "$out"
