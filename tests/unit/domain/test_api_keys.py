from __future__ import annotations

from datetime import UTC, datetime

import pytest

from optin.domain import api_keys
from optin.domain.api_keys import InvalidKeyName

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def test_a_new_key_is_prefixed_names_its_id_and_is_unique() -> None:
    one, two = api_keys.new_key("CRM", NOW), api_keys.new_key("CRM", NOW)
    assert one.key.startswith("optin_")
    assert api_keys.key_id_of(one.key) == one.record.key_id
    assert one.key != two.key and one.record.key_id != two.record.key_id
    assert one.record.secret_hash == api_keys.digest(one.key) != one.key
    assert 20 <= len(one.key) <= 128  # API Gateway's bounds for an API key value


@pytest.mark.parametrize(
    "presented", ["", "optin_", "optin_0123456789abcdef_short", "x" * 200, "sk_live_123"]
)
def test_anything_not_shaped_like_a_key_has_no_id(presented: str) -> None:
    assert api_keys.key_id_of(presented) is None


@pytest.mark.parametrize("name", [None, "", "   ", "x" * 101, "a\nb", 7])
def test_bad_names_are_refused(name: object) -> None:
    with pytest.raises(InvalidKeyName):
        api_keys.check_name(name)
