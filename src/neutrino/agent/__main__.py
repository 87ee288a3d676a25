"""``python -m neutrino.agent``: the same as ``neutrino agent``, without the other programs."""

from __future__ import annotations

import argparse
import sys

from neutrino.agent import cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="neutrino agent", description=cli.__doc__)
    cli.configure(parser)
    return cli.run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
