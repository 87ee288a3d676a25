#!/bin/sh
# Debian trixie's OVN 25.03 and Open vSwitch 3.5 beside bookworm's 23.03 / 3.1, for the OVN benches
# (issue 11: does a newer OVN's incremental processing take the create -> ACTIVE tail under 500 ms?).
#
# Builds, if missing: /opt/trixie, trixie's packages (ovn-central, ovn-host, openvswitch-switch and
# their libraries, glibc's loader included) extracted by mmdebstrap, no maintainer script run, the
# system's packages untouched; /opt/ovn-trixie/bin, one script per program running trixie's binary
# through trixie's loader. The loader is reached through a symlink named after the program
# (/opt/ovn-trixie/libexec/PROG), so the process's name (/proc/PID/comm) is the program's: the agent
# knows its ovn-controller by that name, and the bench's CPU table labels processes with it.
# Nothing is left running. Prints (on stdout, all else goes to stderr) the environment to use:
#
#   eval "$(sh bench/newer_ovn.sh)" && .venv/bin/python bench/ovn_ports_at_scale.py --stages
set -eu
ROOT=/opt/trixie
WRAP=/opt/ovn-trixie
LIBS=$ROOT/usr/lib/x86_64-linux-gnu
LOADER=$LIBS/ld-linux-x86-64.so.2

if [ ! -x "$ROOT/usr/bin/ovn-northd" ] || [ ! -e "$LOADER" ]; then
    command -v mmdebstrap >/dev/null || apt-get install -y --no-install-recommends mmdebstrap >&2
    rm -rf "$ROOT.new"
    mmdebstrap --variant=extract --include=ovn-central,ovn-host,ovn-common,openvswitch-switch,openvswitch-common,libc6 \
        trixie "$ROOT.new" http://deb.debian.org/debian >&2
    rm -rf "$ROOT" && mv "$ROOT.new" "$ROOT"
fi

mkdir -p "$WRAP/bin" "$WRAP/libexec"
for prog in usr/sbin/ovsdb-server usr/lib/openvswitch-switch/ovs-vswitchd usr/bin/ovsdb-tool usr/bin/ovsdb-client \
    usr/bin/ovs-vsctl usr/bin/ovs-appctl usr/bin/ovs-ofctl usr/bin/ovs-dpctl usr/bin/ovn-northd \
    usr/bin/ovn-controller usr/bin/ovn-nbctl usr/bin/ovn-sbctl usr/bin/ovn-appctl usr/bin/ovn-trace; do
    name=${prog##*/}
    ln -sfn "$LOADER" "$WRAP/libexec/$name"
    printf '#!/bin/sh\nexec %s --inhibit-cache --library-path %s %s "$@"\n' \
        "$WRAP/libexec/$name" "$LIBS" "$ROOT/$prog" > "$WRAP/bin/$name"
    chmod 755 "$WRAP/bin/$name"
    "$WRAP/bin/$name" --version | head -1 >&2
done

echo "export PATH=$WRAP/bin:\$PATH"
echo "export NEUTRINO_OVN_SCHEMAS=$ROOT/usr/share/ovn"
echo "export NEUTRINO_OVS_SCHEMA=$ROOT/usr/share/openvswitch/vswitch.ovsschema"
