#!/usr/bin/env bash
# Installs the Debian packages NEDB builds against, if any are missing. Safe to run repeatedly.
set -euo pipefail
need=()
for p in libsodium-dev libzstd-dev libsqlite3-dev pkg-config python3 python3-venv; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing: ${need[*]}" >&2
  $sudo apt-get update
  $sudo apt-get install -y "${need[@]}"
fi
