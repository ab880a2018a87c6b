"""The Cognito identity adapter against botocore's Stubber: each call's request as the model
validates it, and Cognito's refusals mapped to the port's errors."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from optin.adapters.cognito_identity import CognitoIdentity
from optin.domain.errors import ConfigError
from optin.domain.session import (
    IdentityUnavailable,
    InvalidCredentials,
    PasswordChangeRequired,
    TokenRejected,
)

POOL = "us-east-1_AbCdEf123"
CLIENT = "1example23456789"


@pytest.fixture
def stubbed() -> tuple[CognitoIdentity, Stubber]:
    client = boto3.client(
        "cognito-idp", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )
    stubber = Stubber(client)
    stubber.activate()
    return CognitoIdentity(POOL, CLIENT, client_factory=lambda: client), stubber


def _auth(password: str = "pw") -> dict[str, Any]:
    return {
        "AuthFlow": "USER_PASSWORD_AUTH",
        "ClientId": CLIENT,
        "AuthParameters": {"USERNAME": "ada", "PASSWORD": password},
    }


def test_sign_in(stubbed: tuple[CognitoIdentity, Stubber]) -> None:
    identity, stubber = stubbed
    stubber.add_response(
        "initiate_auth",
        {"AuthenticationResult": {"AccessToken": "tok", "ExpiresIn": 3600, "TokenType": "Bearer"}},
        _auth(),
    )
    token = identity.sign_in("ada", "pw")
    assert (token.access_token, token.expires_in) == ("tok", 3600)


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("NotAuthorizedException", InvalidCredentials),
        ("UserNotFoundException", InvalidCredentials),
        ("PasswordResetRequiredException", PasswordChangeRequired),
        ("TooManyRequestsException", IdentityUnavailable),
        ("InternalErrorException", IdentityUnavailable),
    ],
)
def test_sign_in_refusals(stubbed: tuple[CognitoIdentity, Stubber], code: str, error: type) -> None:
    identity, stubber = stubbed
    stubber.add_client_error("initiate_auth", code, "no", expected_params=_auth())
    with pytest.raises(error):
        identity.sign_in("ada", "pw")


def test_a_challenge_is_a_password_change(stubbed: tuple[CognitoIdentity, Stubber]) -> None:
    identity, stubber = stubbed
    stubber.add_response(
        "initiate_auth", {"ChallengeName": "NEW_PASSWORD_REQUIRED", "Session": "s" * 20}, _auth()
    )
    with pytest.raises(PasswordChangeRequired):
        identity.sign_in("ada", "pw")


def test_sign_in_without_a_client_id_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        CognitoIdentity(POOL, "", client_factory=lambda: None).sign_in("ada", "pw")


def test_user_of(stubbed: tuple[CognitoIdentity, Stubber]) -> None:
    identity, stubber = stubbed
    stubber.add_response(
        "get_user", {"Username": "ada", "UserAttributes": []}, {"AccessToken": "tok"}
    )
    stubber.add_client_error("get_user", "NotAuthorizedException", "Access Token has been revoked")
    stubber.add_client_error("get_user", "TooManyRequestsException", "slow down")
    assert identity.user_of("tok") == "ada"
    with pytest.raises(TokenRejected):
        identity.user_of("tok")
    with pytest.raises(IdentityUnavailable):
        identity.user_of("tok")


def test_groups_of_follows_pages(stubbed: tuple[CognitoIdentity, Stubber]) -> None:
    identity, stubber = stubbed
    stubber.add_response(
        "admin_list_groups_for_user",
        {"Groups": [{"GroupName": "viewer"}], "NextToken": "n1"},
        {"UserPoolId": POOL, "Username": "ada"},
    )
    stubber.add_response(
        "admin_list_groups_for_user",
        {"Groups": [{"GroupName": "agent"}]},
        {"UserPoolId": POOL, "Username": "ada", "NextToken": "n1"},
    )
    stubber.add_client_error("admin_list_groups_for_user", "UserNotFoundException", "gone")
    assert identity.groups_of("ada") == ["viewer", "agent"]
    with pytest.raises(TokenRejected):
        identity.groups_of("ada")


def test_sign_out(stubbed: tuple[CognitoIdentity, Stubber]) -> None:
    identity, stubber = stubbed
    stubber.add_response("global_sign_out", {}, {"AccessToken": "tok"})
    stubber.add_client_error("global_sign_out", "NotAuthorizedException", "revoked")
    stubber.add_client_error("global_sign_out", "InternalErrorException", "oops")
    identity.sign_out("tok")
    with pytest.raises(TokenRejected):
        identity.sign_out("tok")
    with pytest.raises(IdentityUnavailable):
        identity.sign_out("tok")
    stubber.assert_no_pending_responses()
