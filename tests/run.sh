#!/usr/bin/env bash
# Run every test on a fresh machine: install what the tests start, lint and type-check, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/install-tools.sh
python3 -m ruff check airlock tests benchmarks
python3 -m mypy airlock
AIRLOCK_FUZZ_EXAMPLES="${AIRLOCK_FUZZ_EXAMPLES:-250}" python3 -m pytest -q "$@"  # the fuzz tests at full depth
