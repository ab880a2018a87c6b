"""Runs every benchmark in turn: `python -m bench [--quick]`."""

import argparse

from bench import engine_vs_moto, signup_throughput


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="fewer iterations, for a smoke run")
    args = parser.parse_args()
    engine_vs_moto.main(quick=args.quick)
    signup_throughput.main(quick=args.quick)


main()
