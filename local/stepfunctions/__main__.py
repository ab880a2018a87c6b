"""python -m local.stepfunctions --port 8083 --db PATH"""

from __future__ import annotations

import argparse
import contextlib
import logging
import pathlib
import signal
import threading

from .server import Server


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Local Step Functions JSON API")
    ap.add_argument("--port", type=int, default=8083)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--db", type=pathlib.Path, default=pathlib.Path(".local/stepfunctions.db"))
    ap.add_argument("--workers", type=int, default=4)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    server = Server(args.db, port=args.port, host=args.host, workers=args.workers).start()
    print(f"Step Functions API on {server.url} (db {args.db})", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with contextlib.suppress(KeyboardInterrupt):
        done.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
