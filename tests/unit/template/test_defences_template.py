"""The pumping defences in template.yaml (offline: there is no WAF locally): parameters that
match the settings' defaults, the environment of the two sign-up functions, the CAPTCHA's
public route and generated key, and the WAF rate-based rule on the API stage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from local.runtime.cfn_yaml import load_template
from local.runtime.template import load_application
from optin.domain.settings import Settings

REPO = Path(__file__).resolve().parents[3]
LIMIT_PARAMETERS = {
    "RateLimitPerNumber": ("RATE_LIMIT_PER_NUMBER", "rate_limit_per_number"),
    "RateLimitPerIp": ("RATE_LIMIT_PER_IP", "rate_limit_per_ip"),
    "RateLimitPerPrefix": ("RATE_LIMIT_PER_PREFIX", "rate_limit_per_prefix"),
    "RateLimitGlobal": ("RATE_LIMIT_GLOBAL", "rate_limit_global"),
    "RateLimitPerApiKey": ("RATE_LIMIT_PER_API_KEY", "rate_limit_per_api_key"),
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(REPO / "template.yaml")


def test_defences_are_on_by_default_with_the_settings_defaults(template: dict[str, Any]) -> None:
    parameters = template["Parameters"]
    defaults = Settings()
    assert parameters["SignupRateLimits"]["Default"] == "on"
    assert parameters["CaptchaRequired"]["Default"] == "true"
    assert defaults.signup_rate_limits and defaults.captcha_required
    for name, (_, field) in LIMIT_PARAMETERS.items():
        assert parameters[name]["Default"] == getattr(defaults, field), name
    assert int(parameters["CaptchaMaxNumber"]["Default"]) == defaults.captcha_max_number


def test_the_sign_up_functions_get_the_limits_and_only_the_form_the_captcha() -> None:
    app = load_application(REPO / "template.yaml")
    form, partner = app.functions["SignupFunction"], app.functions["PartnerApiFunction"]
    for function in (form, partner):
        assert function.environment["SIGNUP_RATE_LIMITS"] == "on"
        for variable, field in LIMIT_PARAMETERS.values():
            if variable != "RATE_LIMIT_PER_API_KEY" or function is partner:
                assert function.environment[variable] == getattr(Settings(), field)
    assert form.environment["CAPTCHA_REQUIRED"] == "true"
    assert "CAPTCHA_REQUIRED" not in partner.environment
    # The key is a dynamic reference to the generated secret, never a literal.
    assert form.environment["CAPTCHA_HMAC_KEY"].startswith("{{resolve:secretsmanager:")
    off = load_application(
        REPO / "template.yaml",
        parameter_overrides={"SignupRateLimits": "off", "CaptchaRequired": "false"},
    )
    assert off.functions["SignupFunction"].environment["SIGNUP_RATE_LIMITS"] == "off"
    assert off.functions["SignupFunction"].environment["CAPTCHA_REQUIRED"] == "false"
    assert Settings.from_mapping(off.functions["SignupFunction"].environment).captcha_required is (
        False
    )


def test_the_captcha_key_is_generated(template: dict[str, Any]) -> None:
    secret = template["Resources"]["CaptchaHmacSecret"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert secret["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32


def test_the_waf_rate_limits_sign_up_posts_per_ip_on_the_api_stage(
    template: dict[str, Any],
) -> None:
    resources = template["Resources"]
    acl = resources["SignupWebAcl"]
    assert acl["Type"] == "AWS::WAFv2::WebACL"
    assert acl["Properties"]["Scope"] == "REGIONAL"
    (rule,) = acl["Properties"]["Rules"]
    rate = rule["Statement"]["RateBasedStatement"]
    assert rate["AggregateKeyType"] == "IP"
    assert rate["Limit"] == {"Ref": "WafSignupRateLimit"}
    matches = rate["ScopeDownStatement"]["AndStatement"]["Statements"]
    searched = {m["ByteMatchStatement"]["SearchString"] for m in matches}
    assert searched == {"POST", "/signups"}  # /signups and /v1/signups, POST only
    assert rule["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 429
    body_key = rule["Action"]["Block"]["CustomResponse"]["CustomResponseBodyKey"]
    assert '"rate_limited"' in acl["Properties"]["CustomResponseBodies"][body_key]["Content"]
    association = resources["SignupWebAclAssociation"]
    assert association["Type"] == "AWS::WAFv2::WebACLAssociation"
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": ["SignupWebAcl", "Arn"]}
    arn = association["Properties"]["ResourceArn"]["Fn::Sub"]
    assert arn.endswith("/restapis/${ServerlessRestApi}/stages/Prod")
    assert int(template["Parameters"]["WafSignupRateLimit"]["MinValue"]) >= 10


def test_cloudfront_marks_what_it_forwards_so_the_viewer_address_can_be_believed(
    template: dict[str, Any],
) -> None:
    resources = template["Resources"]
    assert resources["OriginVerifySecret"]["Type"] == "AWS::SecretsManager::Secret"
    origins = resources["WebDistribution"]["Properties"]["DistributionConfig"]["Origins"]
    (api,) = [origin for origin in origins if origin["Id"] == "api"]
    (header,) = api["OriginCustomHeaders"]
    assert header["HeaderName"] == "X-Origin-Verify"
    reference = "{{resolve:secretsmanager:${OriginVerifySecret}:SecretString}}"
    assert header["HeaderValue"] == {"Fn::Sub": reference}
    env = resources["SignupFunction"]["Properties"]["Environment"]["Variables"]
    assert env["ORIGIN_VERIFY_SECRET"] == {"Fn::Sub": reference}
    # The sign-up routes' behaviours forward CloudFront's headers (AllViewerExceptHostHeader).
    behaviours = resources["WebDistribution"]["Properties"]["DistributionConfig"]["CacheBehaviors"]
    for behaviour in behaviours:
        if behaviour["PathPattern"] in ("/signups", "/signups/*"):
            assert behaviour["OriginRequestPolicyId"] == "b689b0a8-53d0-40ab-baf2-68738e2966ac"
