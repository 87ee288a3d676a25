#!/usr/bin/env bash
# Start Neutrino on its embedded defaults (engine at http://127.0.0.1:8080/ovirt-engine/api).
# Extra arguments go to `neutrino up` (e.g. --data-dir DIR).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
make_venv ""
cd "$NEUTRINO_ROOT"
exec "$VENV/bin/neutrino" up "$@"
