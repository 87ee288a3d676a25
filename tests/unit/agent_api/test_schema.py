"""The agent API's schema module is the contract both programs import: nothing of either comes
with it, and its answer models read what the agent writes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from pydantic import ValidationError

from neutrino.agent_api.schema import Capabilities, DriverDescription, ErrorBody, VmList, VmSpec

CAPABILITIES = {
    "host_name": "host1",
    "tunnel_ip": "192.0.2.11",
    "vm_backend": {"name": "netns", "netns_prefix": "nvm-", "guest_dhcp": False},
    "vnic_drivers": {
        "linux_bridge": {"name": "linux_bridge", "plugin_types": ["LINUX_BRIDGE"],
                         "network_types": ["flat", "local", "vxlan"], "security_groups": True,
                         "details": {"tunnel_ip": "192.0.2.11"}},
        "noop": {"name": "noop", "plugin_types": ["*"], "network_types": ["*"], "security_groups": True},
    },
    "plugin_types": {"LINUX_BRIDGE": {"driver": "linux_bridge", "binding_host_id": "host1",
                                      "network_types": ["flat", "local", "vxlan"], "security_groups": True}},
    "networks": {"internal": [{"network": "ovirtmgmt", "bridge": "ovirtmgmt", "mtu": None}],
                 "external": [{"network_id": "n1", "plugin_type": "LINUX_BRIDGE", "network_type": "vxlan",
                               "segmentation_id": 100, "vnics": 2}],
                 "dhcp": ["n1"]},
    "security_groups": ["web"],
    "certificate": {"serial_number": "1f", "not_after": "2027-01-02T03:04:05Z", "renewal_due": False},
    "accepts": ["port_lease"],
}  # fmt: skip


def test_importing_the_schema_brings_in_no_program_and_no_http_stack() -> None:
    code = (
        "import json, sys, neutrino.agent_api.schema\n"
        "prefixes = ('neutrino.', 'httpx', 'starlette', 'sqlalchemy')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(prefixes))))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert json.loads(out) == [
        "neutrino.agent_api",
        "neutrino.agent_api.dhcp_options",
        "neutrino.agent_api.schema",
    ]


def test_capabilities_read_back_exactly_as_written() -> None:
    caps = Capabilities.model_validate(CAPABILITIES)
    assert caps.vm_backend.name == "netns" and caps.networks.external[0].vnics == 2
    assert caps.model_dump(mode="json") == CAPABILITIES  # no "details" added to the noop driver


def test_answers_ignore_fields_a_newer_agent_adds_but_requests_refuse_unknown_ones() -> None:
    caps = Capabilities.model_validate({**CAPABILITIES, "gpus": 2})
    assert "gpus" not in caps.model_dump()
    assert VmList.model_validate({"vms": [], "next": None}).vms == []
    with pytest.raises(ValidationError, match="nicz"):
        VmSpec.model_validate({"vm_id": "vm-1", "name": "vm1", "nicz": []})


def test_a_driver_without_details_writes_none() -> None:
    bare = DriverDescription(name="noop", plugin_types=["*"], network_types=["*"], security_groups=True)
    assert "details" not in bare.model_dump()
    assert bare.model_copy(update={"details": {"a": 1}}).model_dump()["details"] == {"a": 1}


def test_an_error_body_names_its_code() -> None:
    body = ErrorBody.model_validate({"error": {"code": "PlugFailed", "message": "vNIC nic1: no bridge"}})
    assert body.error.code == "PlugFailed"


def test_an_older_agents_capabilities_accept_nothing_new() -> None:
    older = {k: v for k, v in CAPABILITIES.items() if k != "accepts"}
    assert Capabilities.model_validate(older).accepts == []
