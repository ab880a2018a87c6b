"""Runs every benchmark in turn: `python -m bench [--quick]`."""

import argparse

from bench import (
    baseline,
    console_list,
    console_page,
    dynamodb_cost,
    engine_timers,
    engine_vs_moto,
    signup_throughput,
    yes_latency,
)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="fewer iterations, for a smoke run")
    parser.add_argument(
        "--baseline",
        default=baseline.DEFAULT_BASELINE,
        metavar="REV",
        help="the commit the runtime benchmarks compare against (default: %(default)s)",
    )
    args = parser.parse_args()
    dynamodb_cost.main(quick=args.quick)
    engine_vs_moto.main(quick=args.quick)
    engine_timers.main(quick=args.quick)
    signup_throughput.main(quick=args.quick, baseline_ref=args.baseline)
    yes_latency.main(quick=args.quick, baseline_ref=args.baseline)
    console_list.main(quick=args.quick)
    console_page.main(quick=args.quick)


main()
