"""`python -m local keys create NAME | list | revoke KEY_ID`: the partner API's keys, in the
local runtime's store.

It opens the store directly (the SQLite file the functions use: SQLITE_PATH from --env-vars,
resolved against --data-dir as the runtime resolves it; with --dynamodb-endpoint, the
template's contacts table there, as a runtime started with that option uses it) rather than
calling a route of the runtime: a key is then managed the same way whether or not the
runtime is up, the store lets the runtime's functions and this command write at once, and no
key-management route exists to be protected. The new key is printed once; only its SHA-256
is kept.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from local.runtime.config import REPO_ROOT, RuntimeConfig, load_env_vars

PROG = "python -m local keys"


class UsageError(Exception):
    """The command cannot run as given; the message is one sentence."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description="Manage partner API keys.")
    parser.add_argument("--data-dir", type=Path, default=RuntimeConfig.data_dir)
    parser.add_argument("--env-vars", type=Path, default=RuntimeConfig.env_vars)
    parser.add_argument(
        "--dynamodb-endpoint",
        metavar="URL",
        default=None,
        help="the DynamoDB the runtime was started with (--dynamodb-endpoint URL)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="make a key; it is printed once")
    create.add_argument("name", help="who the key is for")
    commands.add_parser("list", help="every key: id, name, created, revoked (never the key)")
    revoke = commands.add_parser("revoke", help="stop a key at once")
    revoke.add_argument("key_id")
    return parser.parse_args(argv)


def store_path(args: argparse.Namespace) -> Path:
    data_dir = Path(args.data_dir).resolve()
    env = load_env_vars(args.env_vars, data_dir).get("Parameters", {})
    if env.get("CONTACT_STORE", "sqlite") != "sqlite" or not env.get("SQLITE_PATH"):
        raise UsageError(f"{args.env_vars} does not name a SQLite store (SQLITE_PATH).")
    return Path(env["SQLITE_PATH"])


def _store(args: argparse.Namespace) -> Any:
    functions = str(REPO_ROOT / "functions")
    if functions not in sys.path:
        sys.path.insert(0, functions)
    if args.dynamodb_endpoint:
        import boto3

        from local.runtime.config import RuntimeConfig as Config
        from local.runtime.dynamodb_tables import table_names
        from local.runtime.server import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY
        from optin.adapters.dynamodb_api_key_store import DynamoDbApiKeyStore

        def client() -> Any:
            # The runtime's own region and credentials: DynamoDB Local keeps one database
            # per access key and region.
            return boto3.client(
                "dynamodb",
                endpoint_url=args.dynamodb_endpoint,
                region_name=REGION,
                aws_access_key_id=ACCESS_KEY_ID,
                aws_secret_access_key=SECRET_ACCESS_KEY,
            )

        table = table_names(Config.template)["ContactsTable"]
        return DynamoDbApiKeyStore(table, client)
    from optin.adapters.sqlite_api_key_store import SqliteApiKeyStore

    return SqliteApiKeyStore(store_path(args))


def run(args: argparse.Namespace, out: TextIO) -> None:
    store = _store(args)  # first: it puts functions/ on sys.path for the imports below
    from optin.domain import api_keys
    from optin.domain.api_keys import InvalidKeyName, KeyNotFound
    from optin.domain.clock import to_iso, utc_now

    if args.command == "create":
        try:
            made = api_keys.new_key(args.name, utc_now())
        except InvalidKeyName as error:
            raise UsageError(error.message) from None
        store.add(made.record)
        print(f"key id: {made.record.key_id}", file=out)
        print(f"name:   {made.record.name}", file=out)
        print(f"key:    {made.key}", file=out)
        print("Keep the key now: it is not stored and cannot be shown again.", file=out)
    elif args.command == "list":
        for record in store.list():
            revoked = to_iso(record.revoked_at) if record.revoked_at else "-"
            print(
                f"{record.key_id}  {to_iso(record.created_at)}  revoked {revoked}  {record.name}",
                file=out,
            )
    else:
        try:
            record = store.revoke(args.key_id, now=utc_now())
        except KeyNotFound as error:
            raise UsageError(error.message) from None
        assert record.revoked_at is not None
        print(f"revoked {record.key_id} at {to_iso(record.revoked_at)}", file=out)


def main(argv: list[str], out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    try:
        run(parse_args(argv), out)
    except UsageError as error:
        print(f"{PROG}: error: {error}", file=err)
        return 2
    return 0
