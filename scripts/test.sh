#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what is missing, then typecheck, lint, format and
# every unit and integration test against real services. Extra arguments go to vitest
# (e.g. `bash scripts/test.sh test/unit/cli.test.ts`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/test-deps.sh
npm run --silent typecheck
npm run --silent lint
npm run --silent format:check
if [[ $# -eq 0 ]]; then
  # The release engine's coverage floor (issue: src/rollout line coverage >= 95%).
  npx vitest run --project unit --coverage --coverage.include='src/rollout/**' \
    --coverage.thresholds.lines=95 --coverage.reporter=text-summary --reporter=dot
fi
results="$(mktemp -t tideway-vitest-XXXXXX.json)"
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$results" "$@" || status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
  if (r.numTotalTests === 0) { console.error("no test ran"); process.exit(1); }
' "$results" || status=1
rm -f "$results"
exit "$status"
