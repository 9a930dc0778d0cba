#!/usr/bin/env bash
# One command from a fresh machine: installs the Debian packages NEDB needs (if missing), builds
# every tool, and runs the main job on an embedded default: `nedb demo` builds the example data of
# the product description in a new database, runs its queries and verifies it.
# Pass a directory to keep the demo database somewhere specific: ./tools/run.sh ./demo-db
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/setup.sh
swift build
bin="$(swift build --show-bin-path)"
"$bin/nedb" demo "$@"
echo "# tools are in $bin: nedb, nedb-verify, nedb-prove, nedb-dump, nedb-repair, nedb-compact" >&2
