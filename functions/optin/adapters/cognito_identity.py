"""The identity provider on an Amazon Cognito user pool (boto3 `cognito-idp`).

InitiateAuth, GetUser and GlobalSignOut are authorised by the password or the token (boto3
sends them unsigned); AdminListGroupsForUser by the function's role. Locally boto3 reaches the
runtime's cognito-idp through AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from optin.adapters.lazy_client import LazyClient, session_client
from optin.domain.errors import ConfigError
from optin.domain.session import (
    IdentityUnavailable,
    InvalidCredentials,
    IssuedToken,
    PasswordChangeRequired,
    TokenRejected,
)

# A sign-in must not be sent twice on a lost answer (each issues a token), and a person waits.
default_client_factory = session_client("cognito-idp", max_attempts=1)

# What Cognito answers for a password or token that does not work: the caller's fault.
_REJECTED = frozenset({"NotAuthorizedException", "UserNotFoundException"})


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "")).rsplit("#", 1)[-1]


class CognitoIdentity:
    def __init__(
        self,
        user_pool_id: str,
        client_id: str = "",
        client_factory: Callable[[], Any] = default_client_factory,
    ) -> None:
        self._user_pool_id = user_pool_id
        self._client_id = client_id
        self._client = LazyClient(client_factory)

    def sign_in(self, username: str, password: str) -> IssuedToken:
        if not self._client_id:
            raise ConfigError("USER_POOL_CLIENT_ID is not set for this function.")
        try:
            response = self._client().initiate_auth(
                AuthFlow="USER_PASSWORD_AUTH",
                ClientId=self._client_id,
                AuthParameters={"USERNAME": username, "PASSWORD": password},
            )
        except ClientError as error:
            code = _code(error)
            if code in _REJECTED:
                raise InvalidCredentials("Wrong username or password.") from error
            if code == "PasswordResetRequiredException":
                raise PasswordChangeRequired(
                    "This account's password must be reset by an administrator."
                ) from error
            raise IdentityUnavailable(f"Sign-in is unavailable ({code}).") from error
        except BotoCoreError as error:
            raise IdentityUnavailable("Sign-in is unavailable; try again.") from error
        result = response.get("AuthenticationResult")
        if not result:
            # A challenge (NEW_PASSWORD_REQUIRED for a temporary password): the console does
            # not answer challenges; an administrator sets a permanent password.
            raise PasswordChangeRequired(
                "This account has a temporary password; an administrator must set a new one."
            )
        return IssuedToken(str(result["AccessToken"]), int(result["ExpiresIn"]))

    def user_of(self, access_token: str) -> str:
        try:
            response = self._client().get_user(AccessToken=access_token)
        except ClientError as error:
            if _code(error) in _REJECTED or _code(error) == "InvalidParameterException":
                raise TokenRejected("Your session has ended; sign in again.") from error
            raise IdentityUnavailable(f"Sign-in is unavailable ({_code(error)}).") from error
        except BotoCoreError as error:
            raise IdentityUnavailable("Sign-in is unavailable; try again.") from error
        return str(response["Username"])

    def groups_of(self, username: str) -> list[str]:
        if not self._user_pool_id:
            raise ConfigError("USER_POOL_ID is not set for this function.")
        groups: list[str] = []
        request: dict[str, Any] = {"UserPoolId": self._user_pool_id, "Username": username}
        try:
            while True:
                response = self._client().admin_list_groups_for_user(**request)
                groups += [str(group["GroupName"]) for group in response.get("Groups", [])]
                if not response.get("NextToken"):
                    return groups
                request["NextToken"] = response["NextToken"]
        except ClientError as error:
            if _code(error) in _REJECTED:
                raise TokenRejected("Your account no longer exists.") from error
            raise IdentityUnavailable(f"Sign-in is unavailable ({_code(error)}).") from error
        except BotoCoreError as error:
            raise IdentityUnavailable("Sign-in is unavailable; try again.") from error

    def sign_out(self, access_token: str) -> None:
        try:
            self._client().global_sign_out(AccessToken=access_token)
        except ClientError as error:
            if _code(error) in _REJECTED or _code(error) == "InvalidParameterException":
                raise TokenRejected("Your session had already ended.") from error
            raise IdentityUnavailable(f"Sign-out is unavailable ({_code(error)}).") from error
        except BotoCoreError as error:
            raise IdentityUnavailable("Sign-out is unavailable; try again.") from error
