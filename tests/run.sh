#!/usr/bin/env bash
# Run every test on a fresh machine: install what the tests start, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/install-tools.sh
python3 -m pytest -q "$@"
