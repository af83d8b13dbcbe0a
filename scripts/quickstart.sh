#!/usr/bin/env bash
# From a fresh Debian 12 machine to a running local cluster with a sample service:
# bootstrap, then `shoal up --detach`. Extra arguments go to `shoal up`, e.g.
#   bash scripts/quickstart.sh --agents 5 --zones a,b,c
# Stop it with: .venv/bin/shoal down
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh
.venv/bin/shoal up --detach "$@"
echo
echo "(the shoal command is .venv/bin/shoal; 'source .venv/bin/activate' puts it on your PATH)"
