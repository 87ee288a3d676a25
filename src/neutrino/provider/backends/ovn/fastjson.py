"""The OVSDB replica's JSON parser in C.

ovs.db.idl reads every update from the server through ``ovs.json.Parser``, which is a C parser when
the ``ovs`` package has its extension ``ovs._json`` and a lexer in pure Python, character by
character, when it has not. The wheel on PyPI has not (the extension builds only against Open
vSwitch's headers). With the Python lexer, parsing is a large part of the provider's CPU in a resync
(every written row comes back as an update: 2.8 s of CPU for 10,000 ports' rows, 0.33 s in C) and of
each port's write. Debian's ``python3-openvswitch`` (a dependency of ``openvswitch-switch``) ships the
extension, self-contained, for the system's Python; when this
interpreter has the same extension ABI, :func:`use_c_parser` loads that one, checks it parses as the
Python parser does, and makes ``ovs.json`` use it. Otherwise nothing changes.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)

#: where Debian's (and Ubuntu's) python3-openvswitch puts the package
SYSTEM_DIRS = (Path("/usr/lib/python3/dist-packages/ovs"),)

_SAMPLE = (
    '{"id":7,"result":[{"Logical_Switch_Port":{"0b8c3a4e-1f2d-4e5f-8a9b-0c1d2e3f4a5b":{"new":'
    '{"name":"p\\u00e9","tag":["set",[]],"up":true,"n":-1.5e3,"external_ids":["map",[["k","v"]]]}}}}]}'
)


def _parse(parser_class: type, text: str) -> object:
    parser = parser_class(check_trailer=True)
    parser.feed(text)
    return parser.finish()


def use_c_parser(dirs: tuple[Path, ...] = SYSTEM_DIRS) -> str:
    """Make ``ovs.json`` parse in C if it does not yet and a system extension fits; returns which
    parser ``ovs.json`` uses now ("C" or "PYTHON")."""
    import ovs
    import ovs.json

    if ovs.json.PARSER == ovs.json.PARSER_C:
        return "C"
    for directory in dirs:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = directory / f"_json{suffix}"
            if not path.is_file():
                continue
            try:
                spec = importlib.util.spec_from_file_location("ovs._json", path)
                assert spec is not None and spec.loader is not None
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                if _parse(module.Parser, _SAMPLE) != _parse(ovs.json.Parser, _SAMPLE):
                    log.info("OVSDB JSON: %s parses differently; the Python parser stays", path)
                    continue
            except Exception as exc:  # an extension of another build: keep the Python parser
                log.info("OVSDB JSON: %s not usable (%s); the Python parser stays", path, exc)
                continue
            sys.modules["ovs._json"] = module
            ovs._json = module
            ovs.json.ovs = ovs  # bound there only when its import worked
            ovs.json.PARSER = ovs.json.PARSER_C
            log.info("OVSDB JSON: parsing in C with %s", path)
            return "C"
    return str(ovs.json.PARSER)
