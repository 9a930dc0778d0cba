#!/usr/bin/env bash
# Set-up (Debian packages) and the whole test suite, plus the reader-only example package.
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/setup.sh
swift build --build-tests
swift test
# The example embeds only the NEDBReader product: it must build and read a demo database.
swift build --package-path Examples/ReaderExample
demo="$(mktemp -d)"
trap 'rm -rf "$demo"' EXIT
"$(swift build --show-bin-path)/nedb" demo "$demo/db" >/dev/null
"$(swift build --package-path Examples/ReaderExample --show-bin-path)/reader-example" "$demo/db" users alice >/dev/null
echo "reader example: ok"
