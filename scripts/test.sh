#!/usr/bin/env bash
# The whole suite: tools, type-check, lint, then every test file. A clean run means
# clean code, not only passing tests.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-tools.sh
echo "== type-check" && npx tsc -p tsconfig.json --noEmit
echo "== lint" && npx biome check .
echo "== tests"
mapfile -t files < <(find test bench/test -name '*.test.ts' | sort)
if [ ${#files[@]} -eq 0 ]; then
  echo "no test files found under test/ or bench/test/" >&2
  exit 1
fi
exec node --import tsx --test --test-reporter=spec "${files[@]}"
