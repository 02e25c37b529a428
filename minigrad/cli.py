"""The `minigrad` command line."""
import argparse

import minigrad


def build_parser():
    parser = argparse.ArgumentParser(
        prog="minigrad",
        description="minigrad: a readable deep-learning engine on NumPy and Numba.")
    parser.add_argument("--version", action="version", version=f"minigrad {minigrad.__version__}")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return args.run(args)


if __name__ == "__main__":
    raise SystemExit(main())
