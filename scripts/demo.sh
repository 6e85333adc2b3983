#!/usr/bin/env bash
# The local demo: the whole story on one machine. Not built yet.
set -euo pipefail
echo "Tideway demo: coming soon."
echo "It will start a real API server, Redis, Prometheus, a mesh simulator and the controller,"
echo "then release reviews v2 (promoted), v3 with 25% errors (rolled back) and v4 (aborted by hand)."
