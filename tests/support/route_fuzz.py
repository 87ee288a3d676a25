"""A route fuzz of our own over the three running servers: every route their routers declare (the engine's from
its API tree), hit with malformed bodies, parameters and headers, from a fixed seed.

A *finding* is an answer that is a 5xx, a request slower than :data:`SLOW` seconds (the change feed's long poll
excepted), or a body that holds one of the secrets the servers were configured with. The suite runs a sample of
the cases (``per_route``); ``bench/fuzz_routes.py`` runs them all, several rounds.

The servers: :func:`fuzz_world` starts the provider, the engine and an agent in uvicorn threads on 127.0.0.1
(SQLite, or PostgreSQL with ``backend="postgresql"``), seeds a few resources so routes with ids reach their
handlers, and gives the engine a provider whose password is one of the secrets.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.routing import Route

from tests.support.servers import listening_socket
from tests.support.sso import sso_token

SLOW = 2.0
LONG_POLL = ("/v2.0/changes",)
PROVIDER_SECRET = "fuzz-provider-admin-secret"
ENGINE_SECRET = "fuzz-engine-admin-secret"
AGENT_SECRET = "fuzz-agent-token-secret"
LINKED_SECRET = "fuzz-linked-provider-secret"  # the password the engine keeps for its provider

# -- hostile values ------------------------------------------------------------------------------------
DEEP_JSON = b"[" * 100_000
DEEP_XML = b"<a>" * 100_000
RAW_BODIES: tuple[bytes, ...] = (
    DEEP_JSON,
    b'{"a":' * 20_000,
    DEEP_XML,
    b"\xff\xfe\x00garbage",
    b"null",
    b"[]",
    b"123456789012345678901234567890",
    b'{"x": "\\ud800"}',
    b'{"x": NaN, "y": Infinity}',
    b"<x><id><y/></id></x>",
    b'<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><x>&b;</x>',
)
VALUES: tuple[Any, ...] = (
    None,
    True,
    -1,
    2**70,
    -(2**70),
    1e308,
    "",
    "x" * 5000,
    "\ud800",
    "a\x00b",
    "é\u202e",
    [],
    [{}],
    {},
    {"id": {"x": 1}},
    {"a": {"b": [1, {"c": None}]}},
    "99999999999999999999",
    "*" * 40,
    "../../etc/passwd",
)
PATH_VALUES = ("x" * 300, "%ff%fe", "%ED%A0%80", "..%2f..%2fx", "-1", "%00", "é")
#: query strings as a client writes them on the wire (percent-encoded, so invalid UTF-8 and NUL get through)
QUERIES: tuple[str, ...] = (
    "limit=99999999999999999999",
    "limit=-1",
    "marker=" + "x" * 300,
    "sort_key=%C3%A9&sort_dir=sideways",
    "fields=%ED%A0%80x",
    "search=name%3Dx",
    "search=name%3D" + "*a" * 30,
    "search=((((((",
    "max=99999999999999999999",
    "from=-99999999999999999999",
    "page=99999999999999999999",
    "follow=nics,nics,x",
    "name=%00",
    "name=%ff%fe",
    "revision_number=99999999999999999999",
    "id=" + "x" * 300,
)


def json_bytes(value: Any) -> bytes:
    """JSON as a hostile client writes it: lone surrogates escaped, not refused by the encoder."""
    return json.dumps(value, ensure_ascii=True).encode()


def xml_of(root: str, tree: dict[str, Any]) -> bytes:
    def text(v: Any) -> str:
        if isinstance(v, dict):
            return "".join(f"<{k}>{text(x)}</{k}>" for k, x in v.items())
        if isinstance(v, list):
            return "".join(f"<item>{text(x)}</item>" for x in v)
        s = "" if v is None else str(v)
        s = s.encode("utf-8", "backslashreplace").decode()
        return s.replace("&", "&amp;").replace("<", "&lt;").replace("\x00", "&#0;")

    return f"<{root}>{text(tree)}</{root}>".encode()


# -- what is sent -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    method: str
    path: str
    body: bytes | None = None
    query: str = ""
    headers: tuple[tuple[bytes, bytes], ...] = ()
    auth: bool = True


@dataclass
class RouteSpec:
    method: str
    template: str  # with {param}s
    member: str | None = None  # the JSON body's top-level key (a Neutron member, an engine element)
    fields: tuple[str, ...] = ()  # the members a body may hold
    xml: bool = False


@dataclass
class Target:
    name: str
    url: str
    routes: list[RouteSpec]
    auth: dict[str, str]
    ids: dict[str, str] = field(default_factory=dict)  # path parameter -> a real id

    def fill(self, template: str, value: str | None) -> str:
        out = template
        while "{" in out:
            start, end = out.index("{"), out.index("}")
            name = out[start + 1 : end].split(":")[0]
            out = (
                out[:start]
                + (value if value is not None else self.ids.get(name, str(uuid.uuid4())))
                + out[end + 1 :]
            )
        return out


def cases_for(target: Target, spec: RouteSpec) -> list[Case]:
    """Every hostile request for one route: odd path values, parameters, headers, raw bodies, and each of its
    body's members set to each hostile value (in JSON and, where the route speaks it, XML)."""
    m, real = spec.method, target.fill(spec.template, None)
    out: list[Case] = []
    if "{" in spec.template:
        out += [Case(m, target.fill(spec.template, v)) for v in PATH_VALUES]
    if m == "GET":
        out += [Case(m, real, query=q) for q in QUERIES]
    out += [
        Case(m, real, headers=((b"x-auth-token", b"\xff\xfe\x80"),), auth=False),
        Case(m, real, headers=((b"authorization", b"Bearer \xff\xfe"),), auth=False),
        Case(m, real, headers=((b"authorization", b"Basic !!!\xff"),), auth=False),
        Case(
            m,
            real,
            headers=((b"accept", b"application/json"), (b"content-type", b"text/plain; charset=\xff")),
        ),
    ]
    if m in ("POST", "PUT", "PATCH"):
        json_type = ((b"content-type", b"application/json"), (b"accept", b"application/json"))
        out += [Case(m, real, body=b, headers=json_type) for b in RAW_BODIES]
        xml_type = ((b"content-type", b"application/xml"),)
        out += [Case(m, real, body=b, headers=xml_type) for b in RAW_BODIES if b.startswith(b"<")]
        for name in spec.fields:
            for value in VALUES:
                inner = {name: value}
                body = {spec.member: inner} if spec.member and target.name != "engine" else inner
                out.append(Case(m, real, body=json_bytes(body), headers=json_type))
                if spec.xml:
                    out.append(Case(m, real, body=xml_of(spec.member or "x", inner), headers=xml_type))
    return out


def random_value(rng: random.Random, depth: int = 0) -> Any:
    """A random JSON value mixing the hostile leaves with ordinary ones, nested a little."""
    roll = rng.random()
    if depth < 3 and roll < 0.2:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if depth < 3 and roll < 0.35:
        return {rng.choice(("id", "name", "x", "ip_address")): random_value(rng, depth + 1) for _ in range(2)}
    if roll < 0.6:
        return rng.choice(VALUES)
    ordinary = (
        0,
        1,
        4094,
        65536,
        "ACTIVE",
        "10.9.0.5",
        "10.9.0.0/24",
        "fuzz",
        str(uuid.UUID(int=rng.getrandbits(128))),
    )
    return rng.choice(ordinary)


def random_cases(target: Target, spec: RouteSpec, rng: random.Random, count: int) -> list[Case]:
    """``count`` seeded random bodies for a route that takes one: a few of its members, random values each."""
    if spec.method not in ("POST", "PUT") or not spec.fields:
        return []
    headers = ((b"content-type", b"application/json"), (b"accept", b"application/json"))
    real = target.fill(spec.template, None)
    out = []
    for _ in range(count):
        names = rng.sample(spec.fields, min(len(spec.fields), rng.randint(1, 4)))
        inner = {n: random_value(rng) for n in names}
        body = {spec.member: inner} if spec.member and target.name != "engine" else inner
        out.append(Case(spec.method, real, body=json_bytes(body), headers=headers))
    return out


@dataclass
class Finding:
    target: str
    method: str
    url: str
    status: int
    seconds: float
    problem: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.target} {self.method} {self.url}: {self.problem} ({self.status}, {self.seconds:.2f} s) {self.excerpt!r}"


@dataclass
class Tally:
    sent: int = 0
    server_errors: int = 0
    slowest: tuple[float, str] = (0.0, "")
    findings: list[Finding] = field(default_factory=list)
    by_status: dict[int, int] = field(default_factory=dict)
    interrupted: bool = False  # stopped early (Ctrl-C, a time limit): the counts are of what was sent


def send(client: httpx.Client, target: Target, case: Case, secrets: tuple[str, ...], tally: Tally) -> None:
    headers: list[tuple[bytes, bytes]] = (
        [(k.encode(), v.encode()) for k, v in target.auth.items()] if case.auth else []
    )
    headers += list(case.headers)
    url = target.url + case.path + (f"?{case.query}" if case.query else "")
    started = time.perf_counter()
    try:
        response = client.request(case.method, url, content=case.body, headers=headers)
        status, text = response.status_code, response.text
    except httpx.HTTPError as exc:  # a server that drops the connection is a finding too
        status, text = 599, f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - started
    tally.sent += 1
    tally.by_status[status] = tally.by_status.get(status, 0) + 1
    long_poll = any(case.path.startswith(p) for p in LONG_POLL)
    if seconds > tally.slowest[0] and not long_poll:
        tally.slowest = (seconds, f"{target.name} {case.method} {case.path[:120]}")
    problems = []
    if status >= 500:
        tally.server_errors += 1
        problems.append("5xx")
    if seconds > SLOW and not long_poll:
        problems.append("slow")
    problems += [f"leaks the secret {s[:8]}..." for s in secrets if s in text]
    for problem in problems:
        tally.findings.append(
            Finding(target.name, case.method, url[:200], status, seconds, problem, text[:300])
        )


def run(
    targets: list[Target], secrets: tuple[str, ...], seed: int, per_route: int | None, random_bodies: int = 0
) -> Tally:
    """Send each route's cases (a seeded sample of ``per_route`` of them, or all, plus ``random_bodies`` seeded
    random bodies) to every target."""
    rng = random.Random(seed)
    tally = Tally()
    with httpx.Client(timeout=30) as client:
        try:
            for target in targets:
                for spec in target.routes:
                    cases = cases_for(target, spec)
                    if per_route is not None and len(cases) > per_route:
                        cases = rng.sample(cases, per_route)
                    cases += random_cases(target, spec, rng, random_bodies)
                    for case in cases:
                        send(client, target, case, secrets, tally)
        except KeyboardInterrupt:
            tally.interrupted = True
    return tally


def oversized(client: httpx.Client, target: Target, path: str, limit: int) -> httpx.Response:
    return client.post(target.url + path, content=b" " * (limit + 1), headers=target.auth)


# -- routes, from the servers' own routers ---------------------------------------------------------------
def starlette_routes(app: Any, skip: tuple[str, ...] = ()) -> list[tuple[str, str, Any]]:
    """(method, path, endpoint) of every plain route of a Starlette app (HEAD left to GET)."""
    out = []
    for route in app.routes:
        if isinstance(route, Route) and not any(route.path.startswith(s) for s in skip):
            for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
                out.append((method, route.path, route.endpoint))
    return out


def provider_routes(app: Any) -> list[RouteSpec]:
    """The provider's routes; a Neutron resource's body members come from its declaration."""
    services = app.state.provider.services
    by_path = {f"/v2.0/{s.definition.path}": s for s in services.values()}
    specs = []
    for method, path, _ in starlette_routes(app):
        base = path.split("/{")[0]
        service = by_path.get(base)
        if service is not None and method in ("POST", "PUT"):
            member, names = service.definition.member, tuple(service.definition.attributes)
        elif path == "/v2.0/agent-reports":
            member, names = "agent_report", ("host", "agent_type", "configurations", "ports", "floatingips")
        elif path in ("/v3/auth/tokens", "/v2.0/tokens"):
            member, names = "auth", ("identity", "scope", "passwordCredentials", "token", "tenantName")
        elif path.startswith("/v3/"):
            member = path.split("/")[2].rstrip("s") if len(path.split("/")) > 2 else None
            names = ("name", "password", "domain_id", "default_project_id", "enabled", "description")
        else:
            member, names = None, ()
        specs.append(RouteSpec(method, path, member, names))
    return specs


def agent_routes(app: Any) -> list[RouteSpec]:
    from neutrino.agent_api import schema

    models = {
        ("POST", "/api/v1/vms"): schema.VmSpec,
        ("POST", "/api/v1/vms/{vm_id}/nics"): schema.NicSpec,
        ("PUT", "/api/v1/networks"): schema.NetworkSync,
        ("PUT", "/api/v1/networks/{name}"): schema.NetworkSpec,
        ("PUT", "/api/v1/dhcp/{network_id}"): schema.DhcpSpec,
        ("PUT", "/api/v1/security-groups/{group_id}"): schema.SecurityGroupSpec,
    }
    specs = []
    for method, path, _ in starlette_routes(app):
        model = models.get((method, path))
        specs.append(RouteSpec(method, path, None, tuple(model.model_fields) if model else ()))
    return specs


def engine_routes(app: Any) -> list[RouteSpec]:
    """The engine's API paths from its tree (collections, entities, sub-collections, actions), plus the
    other routes of its router (SSO, the web UI's calls)."""
    from neutrino.engine.api.tree import Node, build_tree

    api = "/ovirt-engine/api"
    specs: list[RouteSpec] = [RouteSpec("GET", api)]

    def walk(prefix: str, name: str, node: Node, depth: int) -> None:
        coll = node.collection
        fields = tuple(f.element for f in coll.fields)
        here = f"{prefix}/{name}"
        entity = here + "/{" + f"{coll.element}_id" + "}"
        specs.extend(
            [
                RouteSpec("GET", here),
                RouteSpec("POST", here, coll.element, fields, xml=True),
                RouteSpec("GET", entity),
                RouteSpec("PUT", entity, coll.element, fields, xml=True),
                RouteSpec("DELETE", entity + "-absent"),
            ]
        )
        specs.extend(
            RouteSpec(
                "POST",
                f"{entity}/{a}",
                "action",
                ("host", "snapshot", "data_center", "external_provider", "async"),
                xml=True,
            )
            for a in coll.actions
        )
        for child_name, child in node.children.items():
            walk(entity, child_name, child, depth + 1)

    for name, node in build_tree().items():
        walk(api, name, node, 0)
    for method, path, _ in starlette_routes(app, skip=(api,)):
        fields = (
            ("grant_type", "username", "password", "scope", "token")
            if "sso" in path or "services" in path
            else ()
        )
        specs.append(RouteSpec(method, path, None, fields))
    return specs


# -- the servers ------------------------------------------------------------------------------------------
@contextmanager
def served(app: Any) -> Iterator[str]:
    """An ASGI app in a uvicorn thread on 127.0.0.1 (lifespan on); its base URL."""
    sock = listening_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


@dataclass
class World:
    provider: Target
    engine: Target
    agent: Target
    apps: dict[str, Any]

    @property
    def targets(self) -> list[Target]:
        return [self.provider, self.engine, self.agent]

    @property
    def secrets(self) -> tuple[str, ...]:
        tokens = (self.provider.auth["X-Auth-Token"], self.engine.auth["Authorization"].split()[-1])
        return (PROVIDER_SECRET, ENGINE_SECRET, AGENT_SECRET, LINKED_SECRET, *tokens)


def _provider_token(url: str) -> str:
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"name": "Default"}, "password": PROVIDER_SECRET}}},
        "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}  # fmt: skip
    response = httpx.post(f"{url}/v3/auth/tokens", json=body, timeout=10)
    response.raise_for_status()
    return response.headers["X-Subject-Token"]


def _seed_provider(target: Target) -> None:
    with httpx.Client(base_url=target.url, headers=target.auth, timeout=10) as c:
        net = c.post("/v2.0/networks", json={"network": {"name": "fuzz"}}).json()["network"]
        c.post(
            "/v2.0/subnets",
            json={"subnet": {"network_id": net["id"], "cidr": "10.9.0.0/24", "ip_version": 4}},
        )
        port = c.post("/v2.0/ports", json={"port": {"network_id": net["id"]}}).json()["port"]
        group = c.post("/v2.0/security-groups", json={"security_group": {"name": "fuzz"}}).json()
        target.ids.update(id=port["id"], network_id=net["id"], group=group["security_group"]["id"])


def _seed_engine(target: Target, provider_url: str) -> None:
    headers = {**target.auth, "Content-Type": "application/json", "Accept": "application/json"}
    with httpx.Client(base_url=target.url + "/ovirt-engine/api", headers=headers, timeout=30) as c:

        def add(path: str, body: dict[str, Any]) -> str:
            response = c.post(path, json=body)
            assert response.status_code in (200, 201), response.text
            return str(response.json()["id"])

        dc = add("/datacenters", {"name": "fuzz-dc", "local": "false"})
        cluster = add("/clusters", {"name": "fuzz-cl", "data_center": {"id": dc}})
        vm = add("/vms", {"name": "fuzz-vm", "cluster": {"id": cluster}, "template": {"name": "Blank"}})
        provider = add(
            "/openstacknetworkproviders",
            {"name": "fuzz-osp", "url": provider_url, "requires_authentication": "true", "username": "admin",
             "password": LINKED_SECRET, "authentication_url": f"{provider_url}/v3", "tenant_name": "admin",
             "external_plugin_type": "LINUX_BRIDGE"},
        )  # fmt: skip
    # every entity path parameter gets a real id of its kind where one exists
    target.ids.update(data_center_id=dc, cluster_id=cluster, vm_id=vm, openstack_network_provider_id=provider)


@contextmanager
def fuzz_world(directory: Path, backend: str = "sqlite") -> Iterator[World]:
    """The three servers, seeded, each on its own port (see the module docstring)."""
    from neutrino.agent.app import create_app as agent_app
    from neutrino.agent.datapath.memory import MemoryNet
    from neutrino.agent.datapath.memory import World as HostWorld
    from neutrino.agent.settings import AgentSettings
    from neutrino.engine.app import create_app as engine_app
    from neutrino.engine.settings import EngineSettings
    from neutrino.provider.app import bootstrap
    from neutrino.provider.app import create_app as provider_app
    from neutrino.provider.settings import ProviderSettings
    from tests.support.databases import backend_database

    for sub in ("p-db", "e-db"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        p_db = stack.enter_context(backend_database(backend, directory / "p-db"))
        e_db = stack.enter_context(backend_database(backend, directory / "e-db"))
        p_settings = ProviderSettings(
            db_url=p_db, data_dir=directory / "provider", admin_password=PROVIDER_SECRET
        )
        bootstrap(p_settings)
        p_app = provider_app(p_settings)
        p_url = stack.enter_context(served(p_app))
        provider = Target("provider", p_url, provider_routes(p_app), {"X-Auth-Token": _provider_token(p_url)})
        _seed_provider(provider)

        e_app = engine_app(
            EngineSettings(data_dir=directory / "engine", db=e_db, admin_password=ENGINE_SECRET)
        )
        e_url = stack.enter_context(served(e_app))
        sso = sso_token(e_url, ENGINE_SECRET)
        engine = Target("engine", e_url, engine_routes(e_app), {"Authorization": f"Bearer {sso}"})
        _seed_engine(engine, p_url)

        a_settings = AgentSettings(
            data_dir=directory / "agent", token=AGENT_SECRET, host_name="fuzz-host", host_net="memory",
            vnic_drivers={"LINUX_BRIDGE": "noop"},
        )  # fmt: skip
        a_app = agent_app(a_settings, host_net=MemoryNet(HostWorld()))
        a_url = stack.enter_context(served(a_app))
        agent = Target("agent", a_url, agent_routes(a_app), {"Authorization": f"Bearer {AGENT_SECRET}"})
        yield World(provider, engine, agent, {"provider": p_app, "engine": e_app, "agent": a_app})
