"""OVN's northbound (or southbound) database for tests: a real ovsdb-server on 127.0.0.1 with its own files.

``ovsdb-tool create`` makes the database from Debian's ``ovn-nb.ovsschema`` (``ovn-sb.ovsschema``);
``ovsdb-server`` serves it on a free TCP port, as a child process stopped by its PID (and restartable
on the same port and file, for outage tests). :meth:`NorthboundServer.rows` reads a table with
``ovn-nbctl`` (``ovn-sbctl``).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.pki import Pki

# the schemas OVN databases are created from: the system's, unless the environment names another OVN's
# (NEUTRINO_OVN_SCHEMAS: the directory of its ovn-nb/ovn-sb schemas, bench/newer_ovn.sh)
OVN_SCHEMAS = Path(os.environ.get("NEUTRINO_OVN_SCHEMAS", "/usr/share/ovn"))
NB_SCHEMA = OVN_SCHEMAS / "ovn-nb.ovsschema"
SB_SCHEMA = OVN_SCHEMAS / "ovn-sb.ovsschema"


def missing() -> str | None:
    """Why no northbound can be started here, or None."""
    for tool in ("ovsdb-tool", "ovsdb-server", "ovn-nbctl"):
        if shutil.which(tool) is None:
            return f"{tool} not found (Debian packages ovn-central, openvswitch-switch)"
    if not NB_SCHEMA.exists():
        return f"{NB_SCHEMA} not found (Debian package ovn-central)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _value(cell: Any) -> Any:
    """OVSDB's JSON encoding of one cell as plain Python (maps → dict, sets → list, uuids → str)."""
    if isinstance(cell, list) and len(cell) == 2 and isinstance(cell[0], str):
        kind, inner = cell
        if kind == "map":
            return {_value(k): _value(v) for k, v in inner}
        if kind == "set":
            return [_value(v) for v in inner]
        if kind in ("uuid", "named-uuid"):
            return inner
    return cell


class NorthboundServer:
    """With ``pki``, the server listens for TLS (``pssl:``) and presents that PKI's certificate, which
    clients (``ovn-nbctl`` here, the provider in tests) present too. ``southbound``: the southbound's
    schema and ``ovn-sbctl`` instead (:func:`southbound_server`)."""

    def __init__(self, directory: Path, pki: Pki | None = None, *, southbound: bool = False) -> None:
        self.directory = directory
        self.name = "sb" if southbound else "nb"
        self.schema = SB_SCHEMA if southbound else NB_SCHEMA
        self.ctl = "ovn-sbctl" if southbound else "ovn-nbctl"
        self.db = directory / f"ovn{self.name}_db.db"
        self.port = _free_port()
        self.pki = pki
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def remote(self) -> str:
        return f"{'ssl' if self.pki else 'tcp'}:127.0.0.1:{self.port}"

    def _tls_options(self) -> list[str]:
        if self.pki is None:
            return []
        return [f"--private-key={self.pki.key_file}", f"--certificate={self.pki.chain_file}",
                f"--ca-cert={self.pki.ca_file}"]  # fmt: skip

    def start(self) -> None:
        if not self.db.exists():
            subprocess.run(["ovsdb-tool", "create", str(self.db), str(self.schema)], check=True)
        d = self.directory
        self.process = subprocess.Popen(
            [
                "ovsdb-server",
                str(self.db),
                f"--remote=p{'ssl' if self.pki else 'tcp'}:{self.port}:127.0.0.1",
                f"--unixctl={d / (self.name + '.ctl')}",
                f"--log-file={d / (self.name + '.log')}",
                "--no-chdir",
                *self._tls_options(),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(
                        f"ovsdb-server did not start (see {d / (self.name + '.log')})"
                    ) from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
            self.process = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def nbctl(self, *args: str) -> str:
        """``ovn-nbctl`` (a southbound's: ``ovn-sbctl``) on this database."""
        done = subprocess.run(
            [self.ctl, f"--db={self.remote}", "--timeout=10", *self._tls_options(), *args],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{self.ctl} {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def rows(self, table: str) -> list[dict[str, Any]]:
        """Every row of ``table``, each a dict of its columns (``_uuid`` included)."""
        out = json.loads(self.nbctl("--format=json", "list", table))
        return [{h: _value(c) for h, c in zip(out["headings"], row, strict=True)} for row in out["data"]]

    def wipe(self) -> None:
        """Drop every router, switch, port group and DHCP_Options row (what the provider's tests create)."""
        for lr in self.rows("Logical_Router"):
            self.nbctl("lr-del", lr["_uuid"])
        for group in self.rows("Port_Group"):
            self.nbctl("pg-del", group["_uuid"])
        for ls in self.rows("Logical_Switch"):
            self.nbctl("ls-del", ls["_uuid"])
        for dhcp in self.rows("DHCP_Options"):
            self.nbctl("dhcp-options-del", dhcp["_uuid"])


@contextmanager
def northbound_server(directory: Path, pki: Pki | None = None) -> Iterator[NorthboundServer]:
    server = NorthboundServer(directory, pki)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def southbound_server(directory: Path, pki: Pki | None = None) -> Iterator[NorthboundServer]:
    """A southbound database alone (no ovn-northd): its rows are what the test writes with ``ovn-sbctl``."""
    server = NorthboundServer(directory, pki, southbound=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()
