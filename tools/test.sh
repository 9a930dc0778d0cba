#!/usr/bin/env bash
# Set-up (Debian packages) and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/setup.sh
swift build --build-tests
swift test
