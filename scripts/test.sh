#!/usr/bin/env bash
# The project's test command: lint, type-check, then the whole test suite against real services.
# Uses ./.venv when it exists (made by `scripts/setup-dev.sh` or `.ci/run`).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=""
[ -x .venv/bin/python ] && BIN=.venv/bin/
echo "== ruff"
"${BIN}ruff" check .
"${BIN}ruff" format --check .
echo "== mypy --strict"
"${BIN}mypy" contract edge server ioc bench
echo "== pytest"
"${BIN}python" -m pytest "$@"
