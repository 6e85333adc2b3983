#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what is missing, then typecheck, lint, format and
# every unit and integration test against real services. Extra arguments go to vitest
# (e.g. `bash scripts/test.sh test/unit/cli.test.ts`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/test-deps.sh packages
# The Go-built binaries (about 12 minutes on 2 cores the first time, instant after) are built while
# the static checks and the unit tests run: Go's links are single-threaded, so a core is often free.
build_log="$(mktemp -t tideway-binaries-XXXXXX.log)"
bash scripts/test-deps.sh binaries >"$build_log" 2>&1 &
build_pid=$!
trap 'kill "$build_pid" 2>/dev/null || true' EXIT
npm run --silent typecheck
npm run --silent lint
npm run --silent format:check
unit_results="$(mktemp -t tideway-vitest-unit-XXXXXX.json)"
results="$(mktemp -t tideway-vitest-XXXXXX.json)"
status=0
if [[ $# -eq 0 ]]; then
  # The unit tests, once, with the release engine's coverage floor (src/rollout line coverage >= 95%);
  # the run below then takes only the projects that need services.
  npx vitest run --project unit --coverage --coverage.include='src/rollout/**' \
    --coverage.thresholds.lines=95 --coverage.reporter=text-summary \
    --reporter=dot --reporter=json --outputFile.json="$unit_results" || status=$?
fi
if ! wait "$build_pid"; then
  cat "$build_log" >&2
  echo "[test] building the test binaries failed (above)" >&2
  exit 1
fi
trap - EXIT
cat "$build_log" >&2
rm -f "$build_log"
if [[ $# -eq 0 ]]; then
  npx vitest run --project integration --project chaos --reporter=default --reporter=json --outputFile.json="$results" || status=$?
else
  npx vitest run --reporter=default --reporter=json --outputFile.json="$results" "$@" || status=$?
fi
node -e '
  const fs = require("fs");
  const runs = process.argv.slice(1).filter((f) => fs.existsSync(f) && fs.statSync(f).size > 0).map((f) => JSON.parse(fs.readFileSync(f, "utf8")));
  const sum = (key) => runs.reduce((n, r) => n + r[key], 0);
  console.log(`tests: ${sum("numPassedTests")} passed, ${sum("numFailedTests")} failed, ${sum("numPendingTests") + sum("numTodoTests")} skipped`);
  if (sum("numTotalTests") === 0) { console.error("no test ran"); process.exit(1); }
' "$unit_results" "$results" || status=1
rm -f "$unit_results" "$results"
exit "$status"
