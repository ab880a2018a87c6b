"""`python -m local users add|list|remove|set-password`: the support console's users.

Talks boto3 `cognito-idp` to the running local runtime (--endpoint-url, default
http://127.0.0.1:$PORT), whose user pool is the template's; or, given --user-pool-id and no
--endpoint-url, to the stack's user pool on AWS (credentials and region as the AWS CLI finds
them): the same calls either way. A password is generated and printed once, or typed at a
prompt (--prompt); it is never logged and never passed on the command line.
"""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import string
import sys
from pathlib import Path
from typing import Any, TextIO

from local.runtime.config import RuntimeConfig, endpoint_url

PROG = "python -m local users"
ROLES = ("viewer", "agent")
# Cognito's symbol set (PasswordPolicy RequireSymbols) minus quotes and the space, which are
# awkward to read out or paste.
SYMBOLS = "^$*.[]{}()?!@#%&/,><:;|_~=+-"
GENERATED_LENGTH = 20


class UsageError(Exception):
    """The command cannot run as given; the message is one sentence."""


def generate_password(length: int = GENERATED_LENGTH) -> str:
    """A random password with every class a strict pool policy asks for."""
    alphabet = string.ascii_letters + string.digits + SYMBOLS
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(length))
        if (
            any(c.islower() for c in password)
            and any(c.isupper() for c in password)
            and any(c.isdigit() for c in password)
            and any(c in SYMBOLS for c in password)
        ):
            return password


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Manage the support console's users (viewer or agent)."
    )
    parser.add_argument(
        "--endpoint-url",
        type=endpoint_url,
        default=None,
        metavar="URL",
        help="the local runtime (default http://127.0.0.1:$PORT, or 8000); leave out with "
        "--user-pool-id to manage the user pool on AWS",
    )
    parser.add_argument(
        "--user-pool-id",
        default=None,
        help="the stack's ConsoleUserPoolId output (AWS); locally the template's pool",
    )
    parser.add_argument("-t", "--template", type=Path, default=RuntimeConfig.template)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add = commands.add_parser("add", help="create a user in a role; prints its password once")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--prompt", action="store_true", help="type the password instead")
    commands.add_parser("list", help="every user with its role and status")
    remove = commands.add_parser("remove", help="delete a user (signs it out everywhere)")
    remove.add_argument("name")
    reset = commands.add_parser("set-password", help="give a user a new permanent password")
    reset.add_argument("name")
    reset.add_argument("--prompt", action="store_true", help="type the password instead")
    return parser.parse_args(argv)


def _client(args: argparse.Namespace) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(retries={"total_max_attempts": 1}, connect_timeout=3, read_timeout=10)
    if args.user_pool_id and not args.endpoint_url:
        return boto3.client("cognito-idp", config=config)
    endpoint = args.endpoint_url or f"http://127.0.0.1:{os.environ.get('PORT') or 8000}"
    # The runtime accepts any credentials; boto3 only needs some to sign the Admin* calls.
    return boto3.client(
        "cognito-idp",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID") or "local",
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY") or "local",
        config=config,
    )


def _pool_id(args: argparse.Namespace) -> str:
    if args.user_pool_id:
        return str(args.user_pool_id)
    from local.runtime.template import load_application

    pools = list(load_application(args.template).user_pools)
    if len(pools) != 1:
        raise UsageError(f"{args.template} declares {len(pools)} user pools; give --user-pool-id.")
    return pools[0]


def _password(prompt: bool, name: str) -> tuple[str, bool]:
    """(password, generated)."""
    if not prompt:
        return generate_password(), True
    first = getpass.getpass(f"New password for {name}: ")
    if first != getpass.getpass("Again: "):
        raise UsageError("The two passwords differ; nothing was changed.")
    return first, False


def _show_password(name: str, password: str, out: TextIO) -> None:
    print(f"Password for {name} (shown once, not stored anywhere readable): {password}", file=out)


def run(args: argparse.Namespace, out: TextIO) -> None:
    client = _client(args)
    pool = _pool_id(args)
    if args.command == "add":
        password, generated = _password(args.prompt, args.name)
        # The password as the temporary one first: a password the policy refuses then leaves
        # no half-made user behind.
        client.admin_create_user(
            UserPoolId=pool,
            Username=args.name,
            MessageAction="SUPPRESS",
            TemporaryPassword=password,
        )
        client.admin_set_user_password(
            UserPoolId=pool, Username=args.name, Password=password, Permanent=True
        )
        client.admin_add_user_to_group(UserPoolId=pool, Username=args.name, GroupName=args.role)
        print(f"Added {args.name} as {args.role}.", file=out)
        if generated:
            _show_password(args.name, password, out)
    elif args.command == "set-password":
        password, generated = _password(args.prompt, args.name)
        client.admin_set_user_password(
            UserPoolId=pool, Username=args.name, Password=password, Permanent=True
        )
        print(f"New password set for {args.name}.", file=out)
        if generated:
            _show_password(args.name, password, out)
    elif args.command == "remove":
        client.admin_delete_user(UserPoolId=pool, Username=args.name)
        print(f"Removed {args.name}.", file=out)
    elif args.command == "list":
        rows = []
        request: dict[str, Any] = {"UserPoolId": pool}
        while True:
            page = client.list_users(**request)
            for user in page.get("Users", []):
                groups = client.admin_list_groups_for_user(
                    UserPoolId=pool, Username=user["Username"]
                ).get("Groups", [])
                names = {g["GroupName"] for g in groups}
                role = next((r for r in ("agent", "viewer") if r in names), "(no role)")
                state = user.get("UserStatus", "")
                if not user.get("Enabled", True):
                    state += ", disabled"
                rows.append((user["Username"], role, state))
            if not page.get("PaginationToken"):
                break
            request["PaginationToken"] = page["PaginationToken"]
        if not rows:
            print("No users.", file=out)
        width = max((len(r[0]) for r in rows), default=0)
        for name, role, state in rows:
            print(f"{name:{width}}  {role:9}  {state}", file=out)


def main(argv: list[str], out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    args = parse_args(argv)
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

    try:
        run(args, out)
    except UsageError as error:
        print(f"{PROG}: error: {error}", file=err)
        return 2
    except EndpointConnectionError:
        where = args.endpoint_url or f"http://127.0.0.1:{os.environ.get('PORT') or 8000}"
        print(f"{PROG}: error: no runtime answers at {where}; start python -m local.", file=err)
        return 1
    except ClientError as error:
        detail = error.response.get("Error", {})
        print(f"{PROG}: error: {detail.get('Code')}: {detail.get('Message')}", file=err)
        return 1
    except BotoCoreError as error:
        print(f"{PROG}: error: {error}", file=err)
        return 1
    return 0
