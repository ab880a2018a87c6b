"""python -m local.conformance ../shared/conformance [-k filter] [--jobs N]

Starts the standalone Step Functions server in-process on a free port with a temporary
database and runs the conformance runner (run_conformance.py) against it. Exits with the
runner's code: 0 when every case passed, 1 when any failed (`make test` gates on it)."""

from __future__ import annotations

import argparse
import importlib.util
import logging
import pathlib
import sys
import tempfile

from local.stepfunctions.server import Server


def _runner(root: pathlib.Path) -> object:
    for candidate in (root / "run_conformance.py", root.parent / "run_conformance.py"):
        if candidate.exists():
            spec = importlib.util.spec_from_file_location("run_conformance", candidate)
            assert spec and spec.loader
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    raise SystemExit(f"run_conformance.py not found next to {root}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("path", type=pathlib.Path, help="the conformance folder or its cases/")
    ap.add_argument("-k", "--filter", default=None)
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    root = args.path.resolve()
    cases = root / "cases" if (root / "cases").is_dir() else root
    runner = _runner(root)
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(pathlib.Path(tmp) / "sfn.db", port=0, workers=8).start()
        try:
            run_args = [str(cases), "--endpoint-url", server.url, "--jobs", str(args.jobs)]
            run_args += ["--timeout", str(args.timeout)]
            if args.filter:
                run_args += ["-k", args.filter]
            if args.verbose:
                run_args.append("-v")
            code = int(runner.main(run_args) or 0)  # type: ignore[attr-defined]
        finally:
            server.stop()
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
