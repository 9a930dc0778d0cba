#!/usr/bin/env bash
# Set-up (Debian packages) and the whole test suite (what CI runs):
#  1. every test;
#  2. the crash tests again, NEDB_CRASH_ROUNDS more times (default 4), so a flaky failure shows;
#  3. the store, state and engine tests under ThreadSanitizer (a separate build in .build-tsan;
#     NEDB_TSAN=0 skips it), except the crash tests, whose helper processes are too slow there;
#  4. the reader-only example package.
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/setup.sh
swift build --build-tests
swift test
for round in $(seq 1 "${NEDB_CRASH_ROUNDS:-4}"); do
  echo "crash tests, extra round $round"
  swift test --skip-build --filter CrashTests
done
if [ "${NEDB_TSAN:-1}" != "0" ]; then
  echo "ThreadSanitizer: store, state and engine tests"
  swift build --build-tests --sanitize=thread --scratch-path .build-tsan
  TSAN_OPTIONS="halt_on_error=1 ${TSAN_OPTIONS:-}" swift test --sanitize=thread --scratch-path .build-tsan --skip-build \
    --filter 'NEDBStoreTests|NEDBStateTests|NEDBEngineTests' --skip CrashTests
fi
# The example embeds only the NEDBReader product: it must build and read a demo database.
swift build --package-path Examples/ReaderExample
demo="$(mktemp -d)"
trap 'rm -rf "$demo"' EXIT
"$(swift build --show-bin-path)/nedb" demo "$demo/db" >/dev/null
"$(swift build --package-path Examples/ReaderExample --show-bin-path)/reader-example" "$demo/db" users alice >/dev/null
echo "reader example: ok"
