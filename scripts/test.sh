#!/usr/bin/env bash
# Run the whole test suite: lint, types, then unit, integration, system and e2e tests.
# Installs what the tests need first (Debian packages with apt-get, Python packages in .venv).
# Extra arguments go to pytest (e.g. -k snapshot, tests/unit).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# build tools for ovirtsdk4 (libxml2) and pycurl; the datapath's tools for system tests;
# libvirt's schema validator for the domain XML; Chromium for the UI tests; OVN central and host for the
# OVN backend's tests; tcpdump to read VLAN tags on the OVN lab's provider wire; Node.js for the UI's JavaScript unit tests
apt_need gcc python3-dev libxml2-dev libcurl4-openssl-dev libssl-dev \
    iproute2 iputils-ping dnsmasq-base iptables nftables busybox iperf3 \
    libvirt-clients libxml2-utils util-linux openvswitch-switch chromium isc-dhcp-client \
    ovn-central ovn-host tcpdump nodejs
make_venv "[test]"
cd "$NEUTRINO_ROOT"
export PATH="$VENV/bin:$PATH"

echo "== ruff"; ruff check src tests bench; ruff format --check src tests bench
echo "== mypy"; mypy
echo "== pytest"
exec python -m pytest "$@"
