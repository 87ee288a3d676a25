#!/usr/bin/env bash
# Start Neutrino on its embedded defaults (engine at http://127.0.0.1:8080/ovirt-engine/api).
# Extra arguments go to `neutrino up` (e.g. --data-dir DIR). With `--backend ovn` (run it as root) it
# first installs the Debian packages OVN needs: OVN central and host, Open vSwitch, and the tools of the
# local chassis' datapath (iproute2; busybox for the VMs' DHCP client).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
if wants_ovn "$@"; then
    apt_need openvswitch-switch ovn-central ovn-host iproute2 busybox
fi
make_venv ""
cd "$NEUTRINO_ROOT"
exec "$VENV/bin/neutrino" up "$@"
