"""The template's send brakes: the daily cap and MaxPrice parameters reach every function,
and the protect configuration allows only the countries the sign-up accepts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import phonenumbers
import pytest

from local.runtime.cfn_yaml import load_template
from local.runtime.template import load_application
from optin.domain.settings import Settings

REPO = Path(__file__).resolve().parents[3]
# Regions libphonenumber knows that are not ISO 3166-1 countries (no rule can name them).
NOT_ISO = {"AC", "TA", "XK"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(REPO / "template.yaml")


def test_parameters_default_to_the_settings_defaults(template: dict[str, Any]) -> None:
    parameters = template["Parameters"]
    defaults = Settings()
    cap = parameters["MaxConfirmationTextsPerDay"]
    assert int(cap["Default"]) == defaults.max_confirmation_texts_per_day
    assert cap["MinValue"] == 1
    price = parameters["MaxPricePerMessage"]
    assert price["Default"] == defaults.max_price_per_message
    # The parameter refuses what botocore's model (and so the service) would refuse.
    assert (
        price["AllowedPattern"]
        == Settings.model_fields["max_price_per_message"].metadata[0].pattern
    )


def test_every_function_that_sends_gets_both(template: dict[str, Any]) -> None:
    app = load_application(REPO / "template.yaml")
    senders = [f for f in app.functions.values() if "CONFIGURATION_SET_NAME" in f.environment]
    assert senders
    for function in senders:
        assert function.environment["MAX_CONFIRMATION_TEXTS_PER_DAY"] == "3"
        assert function.environment["MAX_PRICE_PER_MESSAGE"] == "0.05"


def test_the_protect_configuration_blocks_every_country_but_the_allowed(
    template: dict[str, Any],
) -> None:
    resources = template["Resources"]
    protect = resources["SmsProtectConfiguration"]
    assert protect["Type"] == "AWS::SMSVOICE::ProtectConfiguration"
    rules = protect["Properties"]["CountryRuleSet"]["SMS"]
    blocked = {rule["CountryCode"] for rule in rules if rule["ProtectStatus"] == "BLOCK"}
    assert len(blocked) == len(rules)  # only BLOCK rules: the rest is AWS's default ALLOW
    allowed = set(template["Parameters"]["AllowedCountries"]["Default"].split(","))
    assert blocked == set(phonenumbers.SUPPORTED_REGIONS) - NOT_ISO - allowed
    assert "NO" in blocked  # quoted in YAML: a bare NO would be the boolean false


def test_the_protect_configuration_is_on_the_set_every_send_names(
    template: dict[str, Any],
) -> None:
    config_set = template["Resources"]["SmsConfigurationSet"]["Properties"]
    assert config_set["ProtectConfigurationId"] == {
        "Fn::GetAtt": ["SmsProtectConfiguration", "ProtectConfigurationId"]
    }
    app = load_application(REPO / "template.yaml")
    senders = [f for f in app.functions.values() if "CONFIGURATION_SET_NAME" in f.environment]
    assert all(f.environment["CONFIGURATION_SET_NAME"] for f in senders)


def test_a_rule_keeps_allowed_countries_within_what_the_protect_configuration_allows(
    template: dict[str, Any],
) -> None:
    (assertion,) = template["Rules"]["AllowedCountriesAreNotBlocked"]["Assertions"]
    members, allowed = assertion["Assert"]["Fn::EachMemberIn"]
    assert members == {"Ref": "AllowedCountries"}
    rules = template["Resources"]["SmsProtectConfiguration"]["Properties"]["CountryRuleSet"]
    blocked = {rule["CountryCode"] for rule in rules["SMS"]}
    assert set(allowed) == set(phonenumbers.SUPPORTED_REGIONS) - NOT_ISO - blocked
