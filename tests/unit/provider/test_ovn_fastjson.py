"""The OVSDB replica's JSON parser: the system's C extension when it fits, the Python one otherwise."""

from __future__ import annotations

import importlib.machinery
from pathlib import Path

import ovs.json
import pytest

from neutrino.provider.backends.ovn import fastjson

SYSTEM = fastjson.SYSTEM_DIRS[0]
DOC = '{"a":[1,-2.5e3,"\\u00e9\\n",true,null,{"b":["map",[["k","v"]]]}],"c":"0b8c3a4e-1f2d-4e5f-8a9b-0c1d2e3f4a5b"}'


@pytest.fixture
def python_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    """``ovs.json`` as the PyPI wheel leaves it (the Python parser), restored afterwards."""
    monkeypatch.setattr(ovs.json, "PARSER", ovs.json.PARSER_PY)


def test_without_a_fitting_extension_the_python_parser_stays(python_parser: None, tmp_path: Path) -> None:
    assert fastjson.use_c_parser((tmp_path,)) == "PYTHON"
    # a file by the extension's name that is no extension of this interpreter
    (tmp_path / f"_json{importlib.machinery.EXTENSION_SUFFIXES[0]}").write_bytes(b"not a shared object")
    assert fastjson.use_c_parser((tmp_path,)) == "PYTHON"
    assert type(ovs.json.Parser()) is ovs.json.Parser
    assert ovs.json.from_string(DOC)["c"] == "0b8c3a4e-1f2d-4e5f-8a9b-0c1d2e3f4a5b"


@pytest.mark.skipif(
    not any((SYSTEM / f"_json{s}").is_file() for s in importlib.machinery.EXTENSION_SUFFIXES),
    reason="no python3-openvswitch C extension for this interpreter",
)
def test_the_system_extension_parses_as_the_python_parser(python_parser: None) -> None:
    expected = ovs.json.from_string(DOC)
    assert fastjson.use_c_parser() == "C"
    assert type(ovs.json.Parser()) is not ovs.json.Parser
    assert ovs.json.from_string(DOC) == expected
    assert fastjson.use_c_parser() == "C"  # once is enough
