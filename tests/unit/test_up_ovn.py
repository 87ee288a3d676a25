"""`neutrino up --backend ovn`'s choices before anything starts: the TCP remotes, the local chassis' tunnel
address, whether the system's Open vSwitch runs, the databases made once and converted on a new schema,
and the refusals that name what is wrong."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
from pathlib import Path

import pytest

from neutrino import up, up_ovn
from tests.conftest import _require


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    up.configure(parser)
    return parser.parse_args(list(argv))


def test_the_builtin_backend_stays_the_default_and_ovn_listens_on_the_loopback() -> None:
    args = parse()
    assert args.backend == "builtin" and args.local_ovs == "auto"
    assert (args.ovn_nb_listen, args.ovn_sb_listen) == ("127.0.0.1:6641", "127.0.0.1:6642")
    assert up.PLUGIN_TYPES == {"builtin": "LINUX_BRIDGE", "ovn": "OPEN_VSWITCH"}


def test_a_tcp_remote_is_host_port_and_free_or_refused_naming_the_option() -> None:
    assert up_ovn.split_listen("--ovn-nb-listen", "") is None  # unix socket only
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert up_ovn.split_listen("--ovn-sb-listen", f"127.0.0.1:{port}") == ("127.0.0.1", port)
    with pytest.raises(up_ovn.OvnStartError, match="--ovn-nb-listen: '6641' is not HOST:PORT"):
        up_ovn.split_listen("--ovn-nb-listen", "6641")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        with pytest.raises(
            up_ovn.OvnStartError, match=f"--ovn-sb-listen: cannot listen on 127.0.0.1:{taken}"
        ):
            up_ovn.split_listen("--ovn-sb-listen", f"127.0.0.1:{taken}")
    assert up_ovn.tcp_connection(("192.0.2.1", 6642)) == "tcp:192.0.2.1:6642"
    assert up_ovn.tcp_connection(("2001:db8::1", 6642)) == "tcp:[2001:db8::1]:6642"


def test_the_local_chassis_tunnels_from_the_southbounds_address_unless_told() -> None:
    assert up.encap_address(parse("--backend", "ovn")) == "127.0.0.1"
    assert up.encap_address(parse("--ovn-sb-listen", "192.0.2.1:6642")) == "192.0.2.1"
    assert up.encap_address(parse("--ovn-sb-listen", "", "--ovn-encap-ip", "192.0.2.7")) == "192.0.2.7"
    assert up.encap_address(parse("--ovn-sb-listen", "")) == "127.0.0.1"
    with pytest.raises(SystemExit, match="--ovn-encap-ip: required with --ovn-sb-listen 0.0.0.0:6642"):
        up.encap_address(parse("--ovn-sb-listen", "0.0.0.0:6642"))


def test_the_systems_open_vswitch_runs_only_if_its_pid_file_names_a_live_ovs_vswitchd(tmp_path: Path) -> None:
    assert not up_ovn.system_ovs_running(tmp_path)
    (tmp_path / "db.sock").touch()
    (tmp_path / "ovs-vswitchd.pid").write_text(f"{os.getpid()}\n")  # alive, but this is not ovs-vswitchd
    assert not up_ovn.system_ovs_running(tmp_path)


def test_ovn_refuses_the_memory_datapath_or_a_system_ovs_that_does_not_run(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="--backend ovn is not possible here: .*"):
        up.start_ovn(parse("--backend", "ovn", "--datapath", "memory", "--data-dir", str(tmp_path)))
    if up_ovn.missing() is None and not up_ovn.system_ovs_running():
        with pytest.raises(SystemExit, match="--local-ovs system: the system's Open vSwitch does not run"):
            up.start_ovn(parse("--backend", "ovn", "--local-ovs", "system", "--data-dir", str(tmp_path)))
    assert not (tmp_path / "ovn").exists()  # refused before anything was made


def test_a_database_is_made_once_reused_after_and_converted_to_a_newer_schema(tmp_path: Path) -> None:
    _require(
        None if shutil.which("ovsdb-tool") and up_ovn.NB_SCHEMA.exists() else "ovsdb-tool, ovn-nb schema"
    )
    db = tmp_path / "ovnnb_db.db"
    assert up_ovn.ensure_database(db, up_ovn.NB_SCHEMA) == "created"
    assert up_ovn.ensure_database(db, up_ovn.NB_SCHEMA) == "reused"
    older = json.loads(up_ovn.NB_SCHEMA.read_text())
    older["version"] = "1.0.0"
    del older["tables"]["Meter"]
    old_schema = tmp_path / "old.ovsschema"
    old_schema.write_text(json.dumps(older))
    db.unlink()
    assert up_ovn.ensure_database(db, old_schema) == "created"
    assert up_ovn.ensure_database(db, up_ovn.NB_SCHEMA) == "converted"  # as after an upgrade of ovn-central
    assert up_ovn.ensure_database(db, up_ovn.NB_SCHEMA) == "reused"
