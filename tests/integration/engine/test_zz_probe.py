"""probe (never commit): Python calls per start/stop (inclusive), and a cProfile of stops."""
import cProfile, pstats, sys, io
from neutrino.engine.commands import vms
from tests.integration.engine.test_lifecycle import World, world  # noqa: F401


def count(fn):
    n = [0]
    def prof(frame, event, arg):
        if event in ("call", "c_call"):
            n[0] += 1
    sys.setprofile(prof)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return n[0]


def test_probe(world: World) -> None:
    ids = [world.vm(f"p{i}", *world.profiles)[0] for i in range(12)]
    for vm_id in ids[:2]:
        vms.start_vm(world.ctx, vm_id); vms.stop_vm(world.ctx, vm_id)
    runs, stops = [], []
    for vm_id in ids[2:6]:
        runs.append(count(lambda: vms.start_vm(world.ctx, vm_id)))
        stops.append(count(lambda: vms.stop_vm(world.ctx, vm_id)))
    for vm_id in ids[6:]:
        vms.start_vm(world.ctx, vm_id)
    pr = cProfile.Profile()
    pr.enable()
    for vm_id in ids[6:]:
        vms.stop_vm(world.ctx, vm_id)
    pr.disable()
    s = io.StringIO()
    pstats.Stats(pr, stream=s).sort_stats("cumulative").print_stats(45)
    print("RUN calls", runs, "STOP calls", stops)
    print(s.getvalue())
