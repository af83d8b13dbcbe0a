#!/usr/bin/env bash
# The whole check, as CI runs it: make the machine ready (scripts/bootstrap.sh), then the
# generated-code check, the linter and the test suite. Extra arguments go to pytest, e.g.
#   bash scripts/test.sh tests/unit -x
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh
bash scripts/ci-vagrant.sh --install-only  # vagrant + debootstrap, so the Vagrant lab tests run instead of skipping
# The venv's python, ruff and grpc_tools come first (gen-proto runs plain `python`).
export PATH="$PWD/.venv/bin:$PATH"

echo "== generated gRPC code"
bash scripts/gen-proto --check

echo "== ruff"
ruff check .

echo "== pytest"
if [ $# -eq 0 ]; then
  set -- tests
fi
# The slowest tests are listed at the end: the suite runs long, and this says where the time goes.
python -m pytest -q -p no:cacheprovider --durations=30 "$@"
