"""Bench: the provider's change feed against today's polling (issue 17, "no polling for change").

    python bench/agent_feed.py sim [--agents 100] [--idle 60] [--changes 3] [--feed-wait 300]
    sudo python bench/agent_feed.py cli [--rounds 10]

``sim``: ``neutrino provider`` as a real process, and ``--agents`` host agents simulated in this
process (asyncio, one connection each), each with its port in the project's group on one network,
reporting every ``--heartbeat`` seconds. Twice, alternating: agents that follow the change feed and
agents that poll as before (the follower's round of 5 reads every 2 s; the reporter's read of the
agents after each report counted with the heartbeats). Following the feed, each makes the real
agent's requests: its reader's long poll of ``--feed-wait`` s (phases spread), on a change what the
follower and the reporter reread for it; beside it the follower's resync every ``--resync`` s
(phases spread: one request for the provider's state, the full round only when it moved) and the
reporter's read of the agents at its first report past ``--resync`` s. For each: requests/s besides
the heartbeats while nothing changes (and by what they were), ``GET /v2.0/networks`` latency with
them running (and with no agent at all), and the time from a security group rule's create (its API
answer) until the feed named it to every agent and until every agent has read it, with the CPU the
provider and this process used meanwhile.

``cli`` (root): two hosts in namespaces with real agent processes, a netns guest on each in one
group; the h1 agent follows the feed, the h2 agent polls every 2 s (``--no-change-feed``). Each
round makes a rule with the ``openstack`` CLI and times, from the CLI's return, until each host's
iptables has it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.provider_process import PLAIN_HTTP, cpu_seconds, pct, provider_process  # noqa: E402
from bench.provider_process import token as get_token  # noqa: E402

POLL_INTERVAL = 2.0  # today's sync_interval


@dataclass
class Site:
    network: str
    group: str
    ports: list[str]


@dataclass
class Counts:
    requests: int = 0  # besides the heartbeats
    heartbeats: int = 0
    #: the requests besides the heartbeats by what they were ("GET /v2.0/ports", "GET /v2.0/changes (timed out)"...)
    by_path: dict[str, int] = field(default_factory=dict)

    def count(self, what: str) -> None:
        self.requests += 1
        self.by_path[what] = self.by_path.get(what, 0) + 1


async def _request(client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One request, tried again once when a pooled connection the server had just closed fails (as the
    agents' client retries)."""
    try:
        response = await client.request(method, path, **kwargs)
    except (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError):
        response = await client.request(method, path, **kwargs)
    response.raise_for_status()
    return response


@dataclass
class SimAgent:
    """One host agent as the provider sees it: its reads and its heartbeat."""

    n: int
    client: httpx.AsyncClient
    site: Site
    counts: Counts
    seen: dict[str, float] = field(default_factory=dict)  # rule id -> when this agent had read it
    told: dict[str, float] = field(default_factory=dict)  # rule id -> when the feed named it to this agent
    ready: asyncio.Event = field(default_factory=asyncio.Event)  # its first round is done

    @property
    def host(self) -> str:
        return f"sim-{self.n}"

    async def get(self, path: str, **params: Any) -> Any:
        found = (await _request(self.client, "GET", path, params=params)).json()
        what = f"GET {path}"
        if path == "/v2.0/changes":
            changed = found["changes"]["changed"]
            what += " (at once)" if "after" not in params else " (changed)" if changed else " (timed out)"
        self.counts.count(what)
        return found

    def report(self) -> dict[str, Any]:
        return {"agent_report": {
            "host": self.host, "agent_type": "Linux bridge agent",
            "configurations": {"tunneling_ip": f"10.{100 + self.n // 250}.{self.n % 250}.{1 + self.n % 200}",
                               "tunnel_types": ["vxlan"]},
            "ports": [{"id": self.site.ports[self.n], "status": "ACTIVE"}]}}  # fmt: skip

    async def heartbeat(self, interval: float, count_peers: bool, resync: float) -> None:
        """The reporter: a report every ``interval`` s; polling, the agents read after each (counted with
        the heartbeats); following the feed, read at the first report ``resync`` s after the last
        read (counted as requests), as the real reporter does."""
        # following the feed, the reporter's read at its first report is made at the start (in
        # :meth:`follow`, before the agent counts as ready); its next one comes at a phase spread
        # over ``resync`` as in a fleet, so that the steady state is what is counted
        last_peers = -math.inf if count_peers else time.monotonic() - random.uniform(0, resync)
        await asyncio.sleep(random.uniform(0, interval))
        body = self.report()
        while True:
            self.counts.heartbeats += 1
            await _request(self.client, "POST", "/v2.0/agent-reports", json=body)
            if count_peers:  # today's reporter reads the agents after each report
                self.counts.heartbeats += 1
                await _request(
                    self.client, "GET", "/v2.0/agents", params={"agent_type": "Linux bridge agent"}
                )
            elif time.monotonic() - last_peers >= resync:
                last_peers = time.monotonic()
                await self.get("/v2.0/agents", agent_type="Linux bridge agent")
            await asyncio.sleep(interval)

    async def read_groups(self, members: bool = True) -> None:
        """What the follower reads for the groups in use: the groups with their rules, and unless only
        rules changed their members."""
        found = await self.get("/v2.0/security-groups", id=self.site.group)
        if members:
            await self.get("/v2.0/ports", security_groups=self.site.group)
        now = time.monotonic()
        for group in found["security_groups"]:
            for rule in group["security_group_rules"]:
                self.seen.setdefault(rule["id"], now)

    async def full_round(self) -> None:
        """The follower's full round (5 reads)."""
        await self.get("/v2.0/ports", network_id=self.site.network)
        await self.read_groups()
        await self.get("/v2.0/networks", id=self.site.network)
        await self.get("/v2.0/subnets", network_id=self.site.network)

    async def poll(self) -> None:
        await asyncio.sleep(random.uniform(0, POLL_INTERVAL))
        while True:
            await self.full_round()
            self.ready.set()
            await asyncio.sleep(POLL_INTERVAL)

    async def follow(self, wait: float, resync: float) -> None:
        """The agent following the feed: its reader's long polls (``FeedReader``) and, beside them,
        the follower's periodic resync (``NeutronFollower._round``): one request for the provider's
        state, the full round only when it is not the one the last full round read."""
        answer = (await self.get("/v2.0/changes"))["changes"]
        cursor, state = answer["cursor"], answer.get("state")
        await self.full_round()
        await self.get("/v2.0/agents", agent_type="Linux bridge agent")  # the reporter told "anything"
        self.ready.set()
        resyncs = asyncio.create_task(self._resync(resync, state))
        try:
            # the first wait is cut at random so that the agents' renewals are spread, as in a fleet
            asked = random.uniform(0, wait)
            while True:
                answer = (await self.get("/v2.0/changes", after=cursor, wait=f"{asked:.3f}"))["changes"]
                asked = wait
                cursor, changed = answer["cursor"], answer["changed"]
                now = time.monotonic()
                for rule in ((changed or {}).get("security_group_rules") or {}).get("ids") or []:
                    self.told.setdefault(rule, now)
                if changed is None:
                    await self.full_round()
                    await self.get("/v2.0/agents", agent_type="Linux bridge agent")
                    continue
                await self._after(changed)
        finally:
            resyncs.cancel()

    async def _after(self, changed: dict[str, Any]) -> None:
        """What the follower and the reporter reread after the changes the feed named."""
        rules = changed.get("security_group_rules") or changed.get("security_groups")
        ports = changed.get("ports")
        if ports is not None and self.site.group in (ports.get("security_group_ids") or [self.site.group]):
            await self.read_groups(members=True)
        elif rules is not None and self.site.group in (
            rules.get("security_group_ids", rules.get("ids")) or [self.site.group]
        ):
            await self.read_groups(members=False)
        if "agents" in changed:
            await self.get("/v2.0/agents", agent_type="Linux bridge agent")

    async def _resync(self, every: float, state: str | None) -> None:
        await asyncio.sleep(random.uniform(0, every))  # phases spread, as in a fleet
        while True:
            now = (await self.get("/v2.0/changes"))["changes"].get("state")
            if now is None or now != state:
                await self.full_round()
                state = now
            await asyncio.sleep(every)


def _setup(client: httpx.Client, agents: int) -> Site:
    def made(response: httpx.Response, member: str) -> dict[str, Any]:
        if response.status_code != 201:
            raise RuntimeError(f"{member}: {response.status_code} {response.text}")
        return response.json()[member]  # type: ignore[no-any-return]

    net = made(client.post("/v2.0/networks", json={"network": {"name": "feed-bench"}}), "network")
    made(client.post("/v2.0/subnets", json={"subnet": {"network_id": net["id"], "cidr": "10.96.0.0/16", "ip_version": 4}}), "subnet")  # fmt: skip
    group = made(client.post("/v2.0/security-groups", json={"security_group": {"name": "feed-bench"}}), "security_group")  # fmt: skip
    ports = []
    for start in range(0, agents, 200):
        body = {"ports": [{"network_id": net["id"], "security_groups": [group["id"]],
                           "binding:host_id": f"sim-{n}", "device_owner": "oVirt", "device_id": str(uuid.uuid4())}
                          for n in range(start, min(agents, start + 200))]}  # fmt: skip
        response = client.post("/v2.0/ports", json=body)
        if response.status_code != 201:
            raise RuntimeError(f"ports: {response.status_code} {response.text}")
        ports += [p["id"] for p in response.json()["ports"]]
    return Site(net["id"], group["id"], ports)


async def _list_latency(client: httpx.AsyncClient, samples: int) -> dict[str, float]:
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        await _request(client, "GET", "/v2.0/networks")
        times.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.05)
    return {"median": round(statistics.median(times), 1), "p95": round(pct(times, 0.95), 1), "max": round(max(times), 1)}  # fmt: skip


async def _phase(
    base: str, token: str, site: Site, mode: str, args: argparse.Namespace, pid: int, rule_port: list[int]
) -> dict[str, Any]:
    counts = Counts()
    headers = {"X-Auth-Token": token}
    async with contextlib.AsyncExitStack() as stack:
        probe = await stack.enter_async_context(httpx.AsyncClient(base_url=base, headers=headers, timeout=60))
        if args.shared_client:  # one pool for all: httpcore's pool work grows with its connections
            wide = httpx.Limits(
                max_connections=args.agents * 3 + 10, max_keepalive_connections=args.agents * 3 + 10
            )
            shared = httpx.AsyncClient(
                base_url=base, headers=headers, timeout=args.feed_wait + 60, limits=wide
            )
            clients = [await stack.enter_async_context(shared)] * args.agents
        else:  # a client each, as each agent has its own (its long poll, its resync, its reporter)
            clients = [
                await stack.enter_async_context(
                    httpx.AsyncClient(base_url=base, headers=headers, timeout=args.feed_wait + 60)
                )
                for _ in range(args.agents)
            ]
        agents = [SimAgent(n, clients[n], site, counts) for n in range(args.agents)]
        tasks = [
            asyncio.create_task(a.heartbeat(args.heartbeat, mode == "poll", args.resync)) for a in agents
        ]
        if mode == "feed":
            tasks += [asyncio.create_task(a.follow(args.feed_wait, args.resync)) for a in agents]
        else:
            tasks += [asyncio.create_task(a.poll()) for a in agents]
        try:
            started = time.monotonic()
            ready = asyncio.gather(*(a.ready.wait() for a in agents))
            while not ready.done():  # every agent has made its first round (a fleet starting)
                await asyncio.wait([ready, *tasks], timeout=1, return_when=asyncio.FIRST_COMPLETED)
                for task in tasks:
                    if task.done():
                        task.result()  # raise what failed
            first_rounds = time.monotonic() - started
            await asyncio.sleep(args.warmup)
            before, beats, cpu = counts.requests, counts.heartbeats, cpu_seconds(pid)
            sim_cpu = time.process_time()
            paths = dict(counts.by_path)
            started = time.monotonic()
            await asyncio.sleep(args.idle)
            seconds = time.monotonic() - started
            idle = {
                "requests_per_s": round((counts.requests - before) / seconds, 2),
                "requests_per_s_by_path": {
                    what: round((n - paths.get(what, 0)) / seconds, 3)
                    for what, n in sorted(counts.by_path.items())
                    if n > paths.get(what, 0)
                },
                "heartbeat_requests_per_s": round((counts.heartbeats - beats) / seconds, 2),
                "provider_cpu_share": round((cpu_seconds(pid) - cpu) / seconds, 3),
                "sim_cpu_share": round((time.process_time() - sim_cpu) / seconds, 3),
                "seconds": round(seconds, 1),
            }
            listed = await _list_latency(probe, args.list_samples)
            reach = []
            for _ in range(args.changes):
                rule_port[0] += 1
                body = {"security_group_rule": {"security_group_id": site.group, "direction": "ingress",
                                                "protocol": "tcp", "port_range_min": rule_port[0], "port_range_max": rule_port[0]}}  # fmt: skip
                cpu_before, sim_cpu_before = cpu_seconds(pid), time.process_time()
                response = await _request(probe, "POST", "/v2.0/security-group-rules", json=body)
                made, rule = time.monotonic(), response.json()["security_group_rule"]["id"]
                deadline = made + 30
                while sum(rule in a.seen for a in agents) < len(agents) and time.monotonic() < deadline:
                    await asyncio.sleep(0.005)
                spent = time.monotonic() - made
                provider_cpu, sim_cpu = cpu_seconds(pid) - cpu_before, time.process_time() - sim_cpu_before
                got = [a.seen[rule] - made for a in agents if rule in a.seen]
                told = [a.told[rule] - made for a in agents if rule in a.told]
                reach.append({"all_s": round(max(got), 3) if len(got) == len(agents) else None,
                              "median_s": round(statistics.median(got), 3) if got else None,
                              "reached": len(got),
                              "feed_told_first_s": round(min(told), 3) if told else None,
                              "feed_told_all_s": round(max(told), 3) if len(told) == len(agents) else None,
                              # the CPU each side used until every agent had it (the sim: this process)
                              "provider_cpu_share": round(provider_cpu / spent, 2),
                              "sim_cpu_share": round(sim_cpu / spent, 2)})  # fmt: skip
                await asyncio.sleep(0.5)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "first_rounds_s": round(first_rounds, 1),
        "idle": idle,
        "list_networks_ms": listed,
        "rule_reach": reach,
    }


def run_sim(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    with provider_process(workdir / "provider") as base:
        pid = _provider_pid(workdir / "provider")
        token = get_token(base)
        with httpx.Client(base_url=base, headers={"X-Auth-Token": token}, timeout=120) as client:
            site = _setup(client, args.agents)

        async def main() -> dict[str, Any]:
            async with httpx.AsyncClient(base_url=base, headers={"X-Auth-Token": token}, timeout=60) as probe:
                quiet = await _list_latency(probe, args.list_samples)
                for n in range(args.agents):  # every agent known before the phases (a fleet already up)
                    report = SimAgent(n, probe, site, Counts()).report()
                    (await probe.post("/v2.0/agent-reports", json=report)).raise_for_status()
                await asyncio.sleep(3)  # the provider's look at the agents has seen them
            rule_port = [1000]
            rounds: dict[str, list[dict[str, Any]]] = {"feed": [], "poll": []}
            for _ in range(args.rounds):
                for mode in ("feed", "poll"):
                    rounds[mode].append(await _phase(base, token, site, mode, args, pid, rule_port))
            return {"list_networks_ms_no_agents": quiet, **rounds}

        result = asyncio.run(main())
    return {
        "agents": args.agents, "heartbeat_s": args.heartbeat, "feed_wait_s": args.feed_wait, "resync_s": args.resync,
        "load": os.getloadavg(), **result, "summary": _summary(result),
    }  # fmt: skip


def _provider_pid(data_dir: Path) -> int:
    """The provider's pid: the newest ``neutrino provider`` process with ``data_dir`` in its arguments."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                argv = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"provider" in argv and str(data_dir).encode() in argv:
                found.append(int(proc.name))
    if not found:
        raise RuntimeError("the provider process is not found")
    return max(found)


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    def median(mode: str, pick: Any) -> float | None:
        values = [v for r in result[mode] for v in pick(r) if v is not None]
        return round(statistics.median(values), 3) if values else None

    out: dict[str, Any] = {}
    for mode in ("feed", "poll"):
        out[mode] = {
            "idle_requests_per_s": median(mode, lambda r: [r["idle"]["requests_per_s"]]),
            "list_networks_median_ms": median(mode, lambda r: [r["list_networks_ms"]["median"]]),
            "list_networks_p95_ms": median(mode, lambda r: [r["list_networks_ms"]["p95"]]),
            "rule_reaches_all_s": median(mode, lambda r: [x["all_s"] for x in r["rule_reach"]]),
            "rule_told_all_s": median(mode, lambda r: [x.get("feed_told_all_s") for x in r["rule_reach"]]),
        }
    feed, poll = out["feed"], out["poll"]
    if feed["idle_requests_per_s"] is not None and poll["idle_requests_per_s"]:
        out["idle_requests_feed_to_poll"] = round(
            feed["idle_requests_per_s"] / poll["idle_requests_per_s"], 4
        )
    return out


# -- cli: the openstack CLI to iptables, on two real hosts -------------------------------------------


def run_cli(rounds: int, workdir: Path) -> dict[str, Any]:
    from tests.support.netlab import Lab
    from tests.support.provider_lab import PASSWORD, provider_on_underlay

    for key, value in PLAIN_HTTP.items():  # the lab's provider and agents speak plain HTTP, as the suite's
        os.environ.setdefault(key, value)
    lab = Lab(prefix=f"nf{secrets.token_hex(2)}", workdir=workdir / "lab")
    lab.workdir.mkdir(parents=True, exist_ok=True)
    try:
        hosts = lab.underlay({"h1": "1", "h2": "2"})
        provider = provider_on_underlay(lab)
        try:
            agents = {}
            for name, ip, extra in (("h1", "10.199.0.1", []), ("h2", "10.199.0.2", ["--no-change-feed"])):
                agents[name] = lab.agent(
                    hosts[name], name, "--host-net", "kernel", "--vm-backend", "netns",
                    "--vnic-driver", "LINUX_BRIDGE=linux_bridge", "--tunnel-ip", ip,
                    "--netns-prefix", f"{lab.prefix}{name}-", "--provider-url", provider.url,
                    "--provider-password", PASSWORD, "--no-guest-dhcp", *extra,
                )  # fmt: skip
            net = provider.create("networks", "network", name="feed-cli")
            provider.create("subnets", "subnet", network_id=net["id"], cidr="10.97.0.0/24", ip_version=4)
            group = provider.create("security-groups", "security_group", name="feed-cli")
            for name in ("h1", "h2"):
                port = provider.create("ports", "port", network_id=net["id"], security_groups=[group["id"]],
                                       device_owner="oVirt", device_id=str(uuid.uuid4()), **{"binding:host_id": name})  # fmt: skip
                nic = {"nic_id": port["device_id"], "name": "nic1", "mac": port["mac_address"], "mtu": net["mtu"],
                       "external": {"vnic_id": port["id"], "plugin_type": "LINUX_BRIDGE", "network_id": net["id"],
                                    "network_type": net["provider:network_type"],
                                    "segmentation_id": net["provider:segmentation_id"],
                                    "security_groups": [group["id"]]}}  # fmt: skip
                created = agents[name].call(
                    "POST", "/vms", {"vm_id": f"vm-{name}", "name": "vm", "nics": [nic]}
                )
                if created.status_code != 201:
                    raise RuntimeError(f"create VM on {name}: {created.text}")
            times: dict[str, list[float]] = {"h1_feed": [], "h2_poll": []}
            for n in range(rounds):
                dport = str(2000 + n)
                provider.openstack("security group rule create", "--ingress", "--protocol", "tcp",
                                   "--dst-port", dport, group["id"], "-f", "json")  # fmt: skip
                returned = time.monotonic()
                pending = {"h1_feed": hosts["h1"], "h2_poll": hosts["h2"]}
                while pending and time.monotonic() - returned < 30:
                    for key, ns in list(pending.items()):
                        saved = lab.in_ns(ns, "iptables-save", "-t", "filter").stdout
                        if f"--dport {dport} " in saved:
                            times[key].append(time.monotonic() - returned)
                            del pending[key]
                    time.sleep(0.01)
                if pending:
                    raise RuntimeError(f"rule for port {dport} not applied on {sorted(pending)} within 30 s")
                time.sleep(
                    random.uniform(0, POLL_INTERVAL)
                )  # the next round starts at another phase of the poll
        finally:
            for agent in lab.agents:
                agent.stop()
            provider.stop()
    finally:
        lab.cleanup()
    summary = {
        key: {"median_s": round(statistics.median(v), 3), "max_s": round(max(v), 3), "runs": [round(x, 3) for x in v]}
        for key, v in times.items()
    }  # fmt: skip
    return {"rounds": rounds, "load": os.getloadavg(), "cli_return_to_iptables": summary}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="what", required=True)
    sim = sub.add_parser("sim", help="simulated agents against one provider")
    sim.add_argument("--agents", type=int, default=100)
    sim.add_argument("--idle", type=float, default=60, help="seconds of nothing changing that are counted")
    sim.add_argument(
        "--warmup", type=float, default=5, help="seconds after every agent's first round before counting"
    )
    sim.add_argument("--changes", type=int, default=3, help="rule changes timed per phase")
    sim.add_argument("--feed-wait", type=float, default=300, help="the agents' long poll (their default)")
    sim.add_argument("--resync", type=float, default=300, help="the agents' full resync (their default)")
    sim.add_argument(
        "--heartbeat", type=float, default=30, help="the agents' report interval (their default)"
    )
    sim.add_argument("--list-samples", type=int, default=20)
    sim.add_argument("--rounds", type=int, default=1, help="feed and poll phases, alternating")
    sim.add_argument(
        "--shared-client",
        action="store_true",
        help="the simulated agents share one HTTP client (one pool: the bench's own cost grows with them)",
    )
    cli = sub.add_parser("cli", help="openstack CLI to iptables on two real hosts (root)")
    cli.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agent-feed-") as tmp:
        if args.what == "sim":
            result = run_sim(args, Path(tmp))
        else:
            if os.geteuid() != 0 or shutil.which("iptables-save") is None:
                raise SystemExit("cli: needs root and iptables")
            result = run_cli(args.rounds, Path(tmp))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
