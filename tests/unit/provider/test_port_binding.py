"""What ``binding:vif_type`` / ``binding:vif_details`` say for each backend (issue 18)."""

from __future__ import annotations

from pathlib import Path

from neutrino.provider.api.port_binding import vif_binding
from neutrino.provider.settings import ProviderSettings

NET = "0123456789abcdef-0000-0000-000000000000"


def _settings(**values: object) -> ProviderSettings:
    return ProviderSettings(data_dir=Path("/nonexistent"), **values)  # type: ignore[arg-type]


def test_each_backend_reports_its_own_plugging() -> None:
    builtin = vif_binding(_settings(), "host-1", NET)
    assert builtin == {
        "binding_vif_type": "bridge",
        "binding_vif_details": {"port_filter": True, "connectivity": "l2", "bridge_name": "brq0123456789a"},
    }
    ovn = vif_binding(_settings(backend="ovn", ovn_nb_connection="tcp:127.0.0.1:6641"), "host-1", NET)
    assert ovn == {
        "binding_vif_type": "ovs",
        "binding_vif_details": {"port_filter": True, "connectivity": "l2", "bridge_name": "br-int"},
    }


def test_unbound_and_the_override() -> None:
    assert vif_binding(_settings(), "", NET) == {"binding_vif_type": "unbound", "binding_vif_details": {}}
    forced = vif_binding(_settings(vif_type="ovs"), "h", NET)
    assert forced["binding_vif_type"] == "ovs" and forced["binding_vif_details"]["bridge_name"] == "br-int"
