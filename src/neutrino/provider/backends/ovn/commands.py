"""ovsdbapp commands of our own, for writes whose ovsdbapp version costs as much as the northbound
has ports: the replica (ovs.db.idl) rebuilds a whole set column (a switch's ports, a group's
members) on each read, and ovsdbapp's commands read them, or look a row up by name once per port.

Built on first use (ovsdbapp is imported only when the OVN backend runs).
"""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def lsps_add() -> Any:
    """A command inserting new Logical_Switch_Ports into a named switch, each joining its port groups
    (names), in one transaction: the switch and each group looked up once, not once per port as with
    ovsdbapp's ``lsp_add`` and ``pg_add_ports`` (a resync writes thousands). No port of these names
    may exist: the northbound's unique index on names refuses the transaction otherwise."""
    from ovsdbapp.backend.ovs_idl import command, idlutils

    class LspsAdd(command.BaseCommand):
        def __init__(
            self, api: Any, switch: str, ports: list[tuple[str, dict[str, Any]]], join: dict[str, list[str]]
        ) -> None:
            super().__init__(api)
            self.switch, self.ports, self.join = switch, ports, join

        def run_idl(self, txn: Any) -> None:
            ls = self.api.lookup("Logical_Switch", self.switch)
            table, groups = self.api.tables["Logical_Switch_Port"], {}
            for name, columns in self.ports:
                lsp = txn.insert(table)
                lsp.name = name
                # ``up`` is ovn-northd's to write; a new port is not up, and saying so spares
                # ovn-northd a write per new port (and the replica its echo)
                lsp.up = False
                for column, value in columns.items():
                    setattr(lsp, column, idlutils.db_replace_record(value))
                ls.addvalue("ports", lsp)  # a mutate: the set is not read
                for group in self.join.get(name, ()):
                    if group not in groups:
                        groups[group] = self.api.lookup("Port_Group", group)
                    groups[group].addvalue("ports", lsp)

    return LspsAdd


@functools.cache
def lsp_del() -> Any:
    """A command deleting a Logical_Switch_Port from a named switch. ovsdbapp's ``lsp_del`` checks
    the port is among the switch's (and looks for the switch among all of them): the replica
    rebuilds the whole ``ports`` set on each read, so that costs as much as the switch has ports."""
    from ovsdbapp.backend.ovs_idl import command

    class LspDel(command.BaseCommand):
        def __init__(self, api: Any, switch: str, port: str) -> None:
            super().__init__(api)
            self.switch, self.port = switch, port

        def run_idl(self, txn: Any) -> None:
            lsp = self.api.lookup("Logical_Switch_Port", self.port, default=None)
            if lsp is None:
                return
            ls = self.api.lookup("Logical_Switch", self.switch, default=None)
            if ls is not None:
                ls.delvalue("ports", lsp)  # a mutate: the set is not read
            lsp.delete()

    return LspDel
