#!/usr/bin/env bash
# Run every test on a fresh machine: install what the tests start, lint and type-check, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/install-tools.sh
python3 -m ruff check airlock tests benchmarks
python3 -m mypy airlock
python3 -m pytest -q "$@"
