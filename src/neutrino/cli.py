"""The `neutrino` command: one sub-command per program.

Each program owns a module with ``configure(parser)`` and ``run(args) -> int``; they are imported
only when their sub-command is chosen, so ``neutrino --help`` stays cheap and nothing is built at
import time.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# sub-command -> (module, one-line help)
PROGRAMS: dict[str, tuple[str, str]] = {
    "up": ("neutrino.up", "start Neutrino on its embedded defaults"),
    "engine": ("neutrino.engine.cli", "run the engine (oVirt REST API v4)"),
    "provider": ("neutrino.provider.cli", "run the embedded network provider (Neutron v2.0 + Keystone)"),
    "agent": ("neutrino.agent.cli", "run the host agent"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neutrino", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="program", metavar="PROGRAM")
    for name, (module, help_text) in PROGRAMS.items():
        p = sub.add_parser(name, help=help_text)
        p.set_defaults(_module=module)
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            p.set_defaults(_missing=f"'neutrino {name}' is not built yet")
            continue
        mod.configure(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.program:
        parser.print_help()
        return 2
    missing = getattr(args, "_missing", None)
    if missing:
        print(missing, file=sys.stderr)
        return 2
    mod = importlib.import_module(args._module)
    return int(mod.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
