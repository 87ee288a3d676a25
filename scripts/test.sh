#!/usr/bin/env bash
# Run the whole test suite: lint, types, then unit, integration, system and e2e tests.
# Installs what the tests need first (Debian packages with apt-get, Python packages in .venv).
# Extra arguments go to pytest (e.g. -k snapshot, tests/unit).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# build tools for ovirtsdk4 (libxml2) and pycurl; the datapath's tools for system tests;
# libvirt's schema validator for the domain XML; Chromium for the UI tests; OVN central and host for the
# OVN backend's tests; tcpdump to read VLAN tags on the OVN lab's provider wire
# conntrack: a router's floating IP that goes ends the flows through it (conntrack -D)
apt_need conntrack
apt_need gcc python3-dev libxml2-dev libcurl4-openssl-dev libssl-dev \
    iproute2 iputils-ping dnsmasq-base iptables nftables busybox iperf3 \
    libvirt-clients libxml2-utils util-linux openvswitch-switch chromium isc-dhcp-client \
    ovn-central ovn-host tcpdump
# Node.js and npm for the web UI's lint and format checks, its JavaScript unit tests and the axe-core the
# browser tests load (package.json, pinned by package-lock.json; Debian 12's Node 18 runs them). A Node.js
# that brings its own npm (NodeSource's) needs no Debian npm.
apt_need nodejs
command -v npm >/dev/null || apt_need npm
make_venv "[test]"
cd "$NEUTRINO_ROOT"
export PATH="$VENV/bin:$PATH"

echo "== ruff"; ruff check src tests bench; ruff format --check src tests bench
echo "== mypy"; mypy
echo "== eslint, prettier (web UI)"
npm ci --no-audit --no-fund --loglevel=error
npm run --silent lint; npm run --silent format:check
echo "== pytest"
# on NEUTRINO_TEST_WORKERS workers (2; 0 runs in this process): most tests wait on servers and namespaces,
# so two run side by side in about the time of one (tests/conftest.py keeps what shares a fixture together)
exec python -m pytest -n "${NEUTRINO_TEST_WORKERS:-2}" --dist loadgroup "$@"
