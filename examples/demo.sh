#!/usr/bin/env bash
# The main job end to end, offline on loopback: installs what it needs, then runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/install-tools.sh
python3 -m tests.world.demo "$@"
