"""The cognito-idp JSON API subset the console's functions and the `users` CLI call.

Served on the runtime's port like the other AWS JSON APIs (X-Amz-Target
AWSCognitoIdentityProviderService.<Operation>, application/x-amz-json-1.1). The user pools,
their app clients and groups come from template.yaml; users, group memberships and tokens live
in SQLite in the data directory, so they survive a restart.

What it keeps of Cognito's behaviour, because the code depends on it:
- InitiateAuth (USER_PASSWORD_AUTH only) answers NotAuthorizedException "Incorrect username or
  password." for an unknown user as for a wrong password (PreventUserExistenceErrors), and a
  NEW_PASSWORD_REQUIRED challenge for a user created with a temporary password;
- access tokens are opaque here (random, stored hashed, with the client's validity): GetUser
  is how a caller checks one, as the functions do on AWS; GlobalSignOut revokes every token of
  the user, after which GetUser answers "Access Token has been revoked";
- passwords are checked against the pool's PasswordPolicy (InvalidPasswordException) and
  stored as scrypt hashes;
- errors carry Cognito's names (__type) and HTTP 400, as the service answers them.
Tokens are not JWTs and there are no refresh tokens, MFA, attributes beyond `sub`, or
pagination beyond Limit/PaginationToken on ListUsers and AdminListGroupsForUser.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from local.runtime.sqlite_db import Database
from local.runtime.template import PasswordPolicy, UserPool

TARGET_PREFIX = "AWSCognitoIdentityProviderService"
CONTENT_TYPE = "application/x-amz-json-1.1"
SIGNING_NAME = "cognito-idp"  # the service in a SigV4 credential scope
# Operations Cognito authorises by the token or the password, not by a SigV4 signature:
# botocore's model marks them smithy.api#noAuth and sends them unsigned.
PUBLIC_OPERATIONS = frozenset({"InitiateAuth", "GetUser", "GlobalSignOut"})
_SYMBOLS = set("^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+- ")
# scrypt parameters: about 50 ms and 16 MB per hash on this machine's kind.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_MAX_LIMIT = 60

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    pool_id TEXT NOT NULL,
    user_key TEXT NOT NULL,          -- the username, case-folded unless the pool is sensitive
    username TEXT NOT NULL,
    sub TEXT NOT NULL,
    password_hash TEXT,
    status TEXT NOT NULL,            -- CONFIRMED | FORCE_CHANGE_PASSWORD
    enabled INTEGER NOT NULL DEFAULT 1,
    created REAL NOT NULL,
    modified REAL NOT NULL,
    PRIMARY KEY (pool_id, user_key)
);
CREATE TABLE IF NOT EXISTS memberships (
    pool_id TEXT NOT NULL,
    user_key TEXT NOT NULL,
    group_name TEXT NOT NULL,
    added REAL NOT NULL,
    PRIMARY KEY (pool_id, user_key, group_name)
);
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY,     -- sha256 of the token: a copied database signs no one in
    pool_id TEXT NOT NULL,
    user_key TEXT NOT NULL,
    client_id TEXT NOT NULL,
    expires REAL NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS tokens_by_user ON tokens (pool_id, user_key);
CREATE TABLE IF NOT EXISTS sign_in_links (
    code_hash TEXT PRIMARY KEY,
    pool_id TEXT NOT NULL,
    user_key TEXT NOT NULL,
    client_id TEXT NOT NULL,
    created REAL NOT NULL,
    used REAL
);
"""


class CognitoError(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"__type": self.kind, "message": self.message}


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def password_matches(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    _, salt, digest = stored.split("$")
    offered = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), **_SCRYPT)
    return hmac.compare_digest(offered, base64.b64decode(digest))


def password_problem(password: str, policy: PasswordPolicy) -> str | None:
    """Cognito's sentence for a password the pool's policy refuses, or None."""
    if len(password) < policy.minimum_length:
        return "Password not long enough"
    if policy.require_lowercase and not any(c.islower() for c in password):
        return "Password must have lowercase characters"
    if policy.require_uppercase and not any(c.isupper() for c in password):
        return "Password must have uppercase characters"
    if policy.require_numbers and not any(c.isdigit() for c in password):
        return "Password must have numeric characters"
    if policy.require_symbols and not any(c in _SYMBOLS for c in password):
        return "Password must have symbol characters"
    return None


def _string(request: dict[str, Any], name: str, required: bool = True) -> str:
    value = request.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise CognitoError(
            "InvalidParameterException",
            f"1 validation error detected: Value at '{name[0].lower() + name[1:]}' failed to "
            "satisfy constraint: Member must not be null",
        )
    return value


class CognitoIdp:
    """The user pools of one template, served from one SQLite file."""

    def __init__(
        self, path: Path, pools: Iterable[UserPool], clock: Callable[[], float] = time.time
    ):
        self.db = Database(path, SCHEMA)
        self.pools = {pool.pool_id: pool for pool in pools}
        self.clock = clock
        # Compared with for an unknown user: one scrypt, as for a known one with a wrong
        # password, so the time taken does not tell who exists.
        self._nobody = hash_password(secrets.token_urlsafe(16))

    # --- dispatch ---

    def handle(self, operation: str, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "InitiateAuth": self.initiate_auth,
            "GetUser": self.get_user,
            "GlobalSignOut": self.global_sign_out,
            "AdminCreateUser": self.admin_create_user,
            "AdminSetUserPassword": self.admin_set_user_password,
            "AdminAddUserToGroup": self.admin_add_user_to_group,
            "AdminRemoveUserFromGroup": self.admin_remove_user_from_group,
            "AdminListGroupsForUser": self.admin_list_groups_for_user,
            "AdminGetUser": self.admin_get_user,
            "AdminDeleteUser": self.admin_delete_user,
            "ListUsers": self.list_users,
        }
        handler = handlers.get(operation)
        if handler is None:
            return 400, {
                "__type": "UnknownOperationException",
                "message": f"The local cognito-idp does not implement {operation}.",
            }
        try:
            return 200, handler(request)
        except CognitoError as error:
            return 400, error.body()

    # --- lookups ---

    def _pool(self, request: dict[str, Any]) -> UserPool:
        pool_id = _string(request, "UserPoolId")
        pool = self.pools.get(pool_id)
        if pool is None:
            raise CognitoError("ResourceNotFoundException", f"User pool {pool_id} does not exist.")
        return pool

    def _client_pool(self, client_id: str) -> tuple[UserPool, int, frozenset[str]]:
        for pool in self.pools.values():
            for client in pool.clients.values():
                if client.client_id == client_id:
                    return pool, client.access_token_seconds, client.explicit_auth_flows
        raise CognitoError("ResourceNotFoundException", "User pool client does not exist.")

    @staticmethod
    def _key(pool: UserPool, username: str) -> str:
        return username if pool.case_sensitive else username.casefold()

    def _user(self, pool: UserPool, username: str) -> Any:
        row = (
            self.db.connect()
            .execute(
                "SELECT * FROM users WHERE pool_id = ? AND user_key = ?",
                (pool.pool_id, self._key(pool, username)),
            )
            .fetchone()
        )
        if row is None:
            raise CognitoError("UserNotFoundException", "User does not exist.")
        return row

    def _user_payload(self, row: Any, attributes_key: str) -> dict[str, Any]:
        return {
            "Username": row["username"],
            attributes_key: [{"Name": "sub", "Value": row["sub"]}],
            "UserCreateDate": row["created"],
            "UserLastModifiedDate": row["modified"],
            "Enabled": bool(row["enabled"]),
            "UserStatus": row["status"],
        }

    def _check_password(self, pool: UserPool, password: str) -> None:
        problem = password_problem(password, pool.password_policy)
        if problem is not None:
            raise CognitoError(
                "InvalidPasswordException", f"Password did not conform with policy: {problem}"
            )

    def _group(self, pool: UserPool, request: dict[str, Any]) -> str:
        name = _string(request, "GroupName")
        if name not in pool.groups:
            raise CognitoError("ResourceNotFoundException", "Group not found.")
        return name

    # --- public operations ---

    def initiate_auth(self, request: dict[str, Any]) -> dict[str, Any]:
        flow = _string(request, "AuthFlow")
        pool, seconds, flows = self._client_pool(_string(request, "ClientId"))
        if flow != "USER_PASSWORD_AUTH":
            raise CognitoError(
                "InvalidParameterException", f"The local cognito-idp does not implement {flow}."
            )
        if "ALLOW_USER_PASSWORD_AUTH" not in flows:
            raise CognitoError(
                "InvalidParameterException", "USER_PASSWORD_AUTH flow not enabled for this client"
            )
        parameters = request.get("AuthParameters") or {}
        username = parameters.get("USERNAME")
        password = parameters.get("PASSWORD")
        if not isinstance(username, str) or not isinstance(password, str):
            raise CognitoError("InvalidParameterException", "Missing required parameter USERNAME")
        wrong = CognitoError("NotAuthorizedException", "Incorrect username or password.")
        try:
            row = self._user(pool, username)
        except CognitoError:
            password_matches(password, self._nobody)
            raise wrong from None
        if not password_matches(password, row["password_hash"]):
            raise wrong
        if not row["enabled"]:
            raise CognitoError("NotAuthorizedException", "User is disabled.")
        if row["status"] == "FORCE_CHANGE_PASSWORD":
            return {
                "ChallengeName": "NEW_PASSWORD_REQUIRED",
                "Session": secrets.token_urlsafe(32),
                "ChallengeParameters": {"USER_ID_FOR_SRP": row["username"]},
            }
        client_id = _string(request, "ClientId")
        return {"ChallengeParameters": {}, "AuthenticationResult": self._issue(
            pool, row["user_key"], client_id, seconds
        )}  # fmt: skip

    def _issue(self, pool: UserPool, user_key: str, client_id: str, seconds: int) -> dict[str, Any]:
        token = secrets.token_urlsafe(32)
        self.db.connect().execute(
            "INSERT INTO tokens (token_hash, pool_id, user_key, client_id, expires) "
            "VALUES (?, ?, ?, ?, ?)",
            (_hash_token(token), pool.pool_id, user_key, client_id, self.clock() + seconds),
        )
        return {"AccessToken": token, "ExpiresIn": seconds, "TokenType": "Bearer"}

    def _token_owner(self, request: dict[str, Any]) -> tuple[UserPool, Any]:
        token = _string(request, "AccessToken")
        row = (
            self.db.connect()
            .execute("SELECT * FROM tokens WHERE token_hash = ?", (_hash_token(token),))
            .fetchone()
        )
        if row is None or row["pool_id"] not in self.pools:
            raise CognitoError("NotAuthorizedException", "Invalid Access Token")
        if row["revoked"]:
            raise CognitoError("NotAuthorizedException", "Access Token has been revoked")
        if row["expires"] <= self.clock():
            raise CognitoError("NotAuthorizedException", "Access Token has expired")
        pool = self.pools[row["pool_id"]]
        user = (
            self.db.connect()
            .execute(
                "SELECT * FROM users WHERE pool_id = ? AND user_key = ?",
                (pool.pool_id, row["user_key"]),
            )
            .fetchone()
        )
        if user is None:
            raise CognitoError("NotAuthorizedException", "Invalid Access Token")
        if not user["enabled"]:
            raise CognitoError("NotAuthorizedException", "User is disabled.")
        return pool, user

    def get_user(self, request: dict[str, Any]) -> dict[str, Any]:
        _, user = self._token_owner(request)
        return {
            "Username": user["username"],
            "UserAttributes": [{"Name": "sub", "Value": user["sub"]}],
        }

    def global_sign_out(self, request: dict[str, Any]) -> dict[str, Any]:
        pool, user = self._token_owner(request)
        self.db.connect().execute(
            "UPDATE tokens SET revoked = 1 WHERE pool_id = ? AND user_key = ?",
            (pool.pool_id, user["user_key"]),
        )
        return {}

    # --- administration (SigV4-signed) ---

    def admin_create_user(self, request: dict[str, Any]) -> dict[str, Any]:
        pool = self._pool(request)
        username = _string(request, "Username")
        if not username.strip() or len(username) > 128:
            raise CognitoError("InvalidParameterException", "Username is not valid.")
        temporary = _string(request, "TemporaryPassword", required=False)
        if temporary:
            self._check_password(pool, temporary)
        now = self.clock()
        try:
            self.db.connect().execute(
                "INSERT INTO users (pool_id, user_key, username, sub, password_hash, status, "
                "created, modified) VALUES (?, ?, ?, ?, ?, 'FORCE_CHANGE_PASSWORD', ?, ?)",
                (
                    pool.pool_id,
                    self._key(pool, username),
                    username,
                    str(uuid.uuid4()),
                    hash_password(temporary) if temporary else None,
                    now,
                    now,
                ),
            )
        except sqlite3.IntegrityError:
            raise CognitoError("UsernameExistsException", "User account already exists") from None
        return {"User": self._user_payload(self._user(pool, username), "Attributes")}

    def admin_set_user_password(self, request: dict[str, Any]) -> dict[str, Any]:
        pool = self._pool(request)
        user = self._user(pool, _string(request, "Username"))
        password = _string(request, "Password")
        self._check_password(pool, password)
        status = "CONFIRMED" if request.get("Permanent") else "FORCE_CHANGE_PASSWORD"
        conn = self.db.connect()
        conn.execute(
            "UPDATE users SET password_hash = ?, status = ?, modified = ? "
            "WHERE pool_id = ? AND user_key = ?",
            (hash_password(password), status, self.clock(), pool.pool_id, user["user_key"]),
        )
        return {}

    def admin_add_user_to_group(self, request: dict[str, Any]) -> dict[str, Any]:
        pool = self._pool(request)
        user = self._user(pool, _string(request, "Username"))
        group = self._group(pool, request)
        self.db.connect().execute(
            "INSERT OR IGNORE INTO memberships VALUES (?, ?, ?, ?)",
            (pool.pool_id, user["user_key"], group, self.clock()),
        )
        return {}

    def admin_remove_user_from_group(self, request: dict[str, Any]) -> dict[str, Any]:
        pool = self._pool(request)
        user = self._user(pool, _string(request, "Username"))
        group = self._group(pool, request)
        self.db.connect().execute(
            "DELETE FROM memberships WHERE pool_id = ? AND user_key = ? AND group_name = ?",
            (pool.pool_id, user["user_key"], group),
        )
        return {}

    def admin_list_groups_for_user(self, request: dict[str, Any]) -> dict[str, Any]:
        pool = self._pool(request)
        user = self._user(pool, _string(request, "Username"))
        rows = (
            self.db.connect()
            .execute(
                "SELECT group_name, added FROM memberships WHERE pool_id = ? AND user_key = ? "
                "ORDER BY group_name",
                (pool.pool_id, user["user_key"]),
            )
            .fetchall()
        )
        groups = []
        for row in rows:
            group: dict[str, Any] = {
                "GroupName": row["group_name"],
                "UserPoolId": pool.pool_id,
                "CreationDate": row["added"],
                "LastModifiedDate": row["added"],
            }
            precedence = pool.groups.get(row["group_name"])
            if precedence is not None:
                group["Precedence"] = precedence
            groups.append(group)
        return {"Groups": groups}

    def admin_get_user(self, request: dict[str, Any]) -> dict[str, Any]:
        pool = self._pool(request)
        return self._user_payload(self._user(pool, _string(request, "Username")), "UserAttributes")

    def admin_delete_user(self, request: dict[str, Any]) -> dict[str, Any]:
        pool = self._pool(request)
        user = self._user(pool, _string(request, "Username"))
        conn = self.db.connect()
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            for table in ("users", "memberships", "tokens", "sign_in_links"):
                conn.execute(
                    f"DELETE FROM {table} WHERE pool_id = ? AND user_key = ?",
                    (pool.pool_id, user["user_key"]),
                )
        return {}

    def list_users(self, request: dict[str, Any]) -> dict[str, Any]:
        pool = self._pool(request)
        if request.get("Filter"):
            raise CognitoError(
                "InvalidParameterException", "The local cognito-idp does not implement Filter."
            )
        limit = request.get("Limit", _MAX_LIMIT)
        if not isinstance(limit, int) or not 0 <= limit <= _MAX_LIMIT:
            raise CognitoError("InvalidParameterException", "Limit must be between 0 and 60.")
        after = _string(request, "PaginationToken", required=False)
        rows = (
            self.db.connect()
            .execute(
                "SELECT * FROM users WHERE pool_id = ? AND user_key > ? ORDER BY user_key LIMIT ?",
                (pool.pool_id, after, (limit or _MAX_LIMIT) + 1),
            )
            .fetchall()
        )
        page = rows[: limit or _MAX_LIMIT]
        out: dict[str, Any] = {"Users": [self._user_payload(r, "Attributes") for r in page]}
        if len(rows) > len(page):
            out["PaginationToken"] = page[-1]["user_key"]
        return out

    # --- the runtime's own uses (never served as operations) ---

    def ensure_user(self, pool_id: str, username: str, group: str) -> bool:
        """Creates `username` in `group` with a random password nobody is told, unless it
        exists; True when created. Its way in is a sign-in link or `users set-password`."""
        pool = self.pools[pool_id]
        try:
            self._user(pool, username)
            return False
        except CognitoError:
            pass
        password = secrets.token_urlsafe(24) + "aA1!"
        self.admin_create_user({"UserPoolId": pool_id, "Username": username})
        self.admin_set_user_password(
            {"UserPoolId": pool_id, "Username": username, "Password": password, "Permanent": True}
        )
        self.admin_add_user_to_group(
            {"UserPoolId": pool_id, "Username": username, "GroupName": group}
        )
        return True

    def create_sign_in_link(self, pool_id: str, username: str, client_id: str) -> str:
        """A one-time code that signs `username` in through `client_id`. Earlier unused codes
        of the user stop working: only the newest printed link opens the console."""
        pool = self.pools[pool_id]
        user = self._user(pool, username)
        code = secrets.token_urlsafe(32)
        conn = self.db.connect()
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "UPDATE sign_in_links SET used = ? WHERE pool_id = ? AND user_key = ? "
                "AND used IS NULL",
                (self.clock(), pool_id, user["user_key"]),
            )
            conn.execute(
                "INSERT INTO sign_in_links VALUES (?, ?, ?, ?, ?, NULL)",
                (_hash_token(code), pool_id, user["user_key"], client_id, self.clock()),
            )
        return code

    def redeem_sign_in_code(self, code: str) -> dict[str, Any] | None:
        """Tokens for the code's user, as InitiateAuth issues them, or None when the code is
        unknown or was used (the update that marks it used is the one that can succeed)."""
        conn = self.db.connect()
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute(
                "SELECT * FROM sign_in_links WHERE code_hash = ? AND used IS NULL",
                (_hash_token(code),),
            ).fetchone()
            if row is None or row["pool_id"] not in self.pools:
                return None
            conn.execute(
                "UPDATE sign_in_links SET used = ? WHERE code_hash = ?",
                (self.clock(), row["code_hash"]),
            )
        pool, seconds, _ = self._client_pool(row["client_id"])
        return self._issue(pool, row["user_key"], row["client_id"], seconds)
