#!/usr/bin/env bash
# The fast subset: pure and in-process tests, no root, no child processes, no network
# namespaces, no tools beyond Node: `npm run test:unit`, for the edit-test loop. The whole
# suite (`npm test`) is what CI runs. A test file belongs here unless it lives where the
# real program and tools run (e2e, faults, helm, alerts: promtool) or uses one of them.
set -euo pipefail
cd "$(dirname "$0")/.."
OUTSIDE='node:child_process|createNetns|createTestbed|testbed|netns|spawnNode|runNode|promtool|helm|chromium|in-netns|node-child|tools\.js|prlimit|/fixtures/fetch'
mapfile -t files < <(
  find test bench/test -name '*.test.ts' \
    -not -path 'test/e2e/*' -not -path 'test/faults/*' -not -path 'test/helm/*' \
    -not -path 'test/alerts/*' | sort | xargs grep -L -E "$OUTSIDE"
)
if [ ${#files[@]} -eq 0 ]; then
  echo "test:unit: no test files found" >&2
  exit 1
fi
exec node --import tsx --test --test-reporter=spec "${files[@]}"
