#!/usr/bin/env bash
# The local demo, no cluster needed: installs what is missing (first run builds the Kubernetes
# test binaries, a few minutes), then tells the story. `--keep` leaves it all running.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/test-deps.sh
exec npx tsx scripts/demo.ts "$@"
