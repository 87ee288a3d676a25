# Shared by scripts/up.sh and scripts/test.sh: a virtualenv in .venv with Neutrino installed.
# Debian packages are installed with apt-get when missing (as root, or through sudo).

NEUTRINO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${NEUTRINO_VENV:-$NEUTRINO_ROOT/.venv}"
PYTHON="${PYTHON:-python3}"

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "neutrino: need root to run: $*" >&2; return 1; fi
}

# apt_need PKG...: install the Debian packages that are not installed yet
apt_need() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if ! command -v apt-get >/dev/null; then
        echo "neutrino: not a Debian system; please install: ${missing[*]}" >&2; return 1
    fi
    echo "neutrino: installing Debian packages: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# wants_ovn ARGS...: whether `neutrino up` ARGS choose the OVN backend (--backend ovn, --backend=ovn)
wants_ovn() {
    local previous=""
    for arg in "$@"; do
        if [ "$arg" = "--backend=ovn" ] || { [ "$previous" = "--backend" ] && [ "$arg" = "ovn" ]; }; then
            return 0
        fi
        previous=$arg
    done
    return 1
}

# make_venv EXTRAS: create .venv (once) and install Neutrino into it, e.g. make_venv "[test]"
make_venv() {
    local extras="${1:-}"
    if [ ! -x "$VENV/bin/python" ]; then
        "$PYTHON" -m venv "$VENV" 2>/dev/null || { apt_need python3-venv && "$PYTHON" -m venv "$VENV"; }
    fi
    "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
    "$VENV/bin/python" -m pip install -q -e "$NEUTRINO_ROOT$extras"
    link_ovs_c_json
}

# link_ovs_c_json: the OVN backend reads OVSDB through ovs.db.idl, whose JSON parser is pure Python
# unless the `ovs` package was built against Open vSwitch's C library, whose headers Debian does not
# ship. Debian's python3-openvswitch (a dependency of openvswitch-switch) has that parser built: give
# it to the venv's `ovs` when it loads in this Python (parsing the northbound's updates is otherwise
# about a third of the provider's CPU in a resync). Without it everything still works, slower.
link_ovs_c_json() {
    "$VENV/bin/python" - <<'PY' || true
import os, sysconfig
import ovs
suffix = sysconfig.get_config_var("EXT_SUFFIX")
built = f"/usr/lib/python3/dist-packages/ovs/_json{suffix}"
mine = os.path.join(os.path.dirname(ovs.__file__), f"_json{suffix}")
if os.path.exists(built) and not os.path.lexists(mine):
    os.symlink(built, mine)
    try:
        import ovs._json  # noqa: F401
    except ImportError:
        os.unlink(mine)
PY
}
