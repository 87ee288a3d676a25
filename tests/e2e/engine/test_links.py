"""Every link the API advertises answers, and every entity it shows has an id and an href under the API."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

import httpx
import ovirtsdk4.types as types
import pytest
from lxml import etree

from tests.e2e.engine.conftest import RunningEngine
from tests.e2e.engine.helpers import API_PATH, make_site, make_vm, make_vm_network

MAX_REQUESTS = 600


@pytest.fixture(scope="module")
def http(shared_engine: RunningEngine, shared_connection: Any) -> Iterator[httpx.Client]:
    token = shared_connection.authenticate()
    base = shared_engine.url.removesuffix(API_PATH)
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


@pytest.fixture(scope="module")
def populated(system: Any) -> None:
    """One of everything, so that every kind of entity is rendered and linked."""
    site = make_site(system)
    _, profile = make_vm_network(system, site)
    vm = make_vm(system, site)
    vm_service = system.vms_service().vm_service(vm.id)
    vm_service.nics_service().add(types.Nic(name="nic1", vnic_profile=types.VnicProfile(id=profile.id)))
    vm_service.snapshots_service().add(types.Snapshot(description="s1"))
    system.hosts_service().add(
        types.Host(name="h1", address="192.0.2.1", cluster=types.Cluster(id=site.cluster.id))
    )


def _entities(element: etree._Element) -> Iterator[etree._Element]:
    """Every element that is an entity or a reference to one (it has an id). A cluster's migration policy is
    shown by id only, as oVirt shows it: oVirt has no collection of them in the API."""
    for el in element.iter():
        if isinstance(el.tag, str) and el.get("id") is not None and el.tag not in ("vlan", "policy"):
            yield el


def test_every_advertised_link_answers(http: httpx.Client, populated: None) -> None:
    seen: set[str] = set()
    queue = deque([API_PATH])
    broken: list[str] = []
    while queue and len(seen) < MAX_REQUESTS:
        href = queue.popleft()
        if href in seen:
            continue
        seen.add(href)
        r = http.get(href)
        if r.status_code != 200 or not r.headers["content-type"].startswith("application/xml"):
            broken.append(f"{href} -> {r.status_code}")
            continue
        root = etree.fromstring(r.content)
        for el in _entities(root):
            ref = el.get("href")
            if ref is None:
                broken.append(f"{href}: <{el.tag} id={el.get('id')}> has no href")
                continue
            assert ref.startswith(f"{API_PATH}/"), ref
            assert ref.rstrip("/").endswith(el.get("id") or ""), ref
            queue.append(ref)
        for link in root.iter("link"):
            ref = link.get("href") or ""
            if "{" in ref or link.getparent() is not None and link.getparent().tag == "actions":
                continue  # search templates and actions (POST only)
            assert ref.startswith(f"{API_PATH}/"), ref
            queue.append(ref)
    assert len(seen) > 50  # the crawl did reach the entities
    assert broken == [], "\n".join(broken)
