"""Distinct valid US mobile-capable numbers, so tests sharing a runtime never collide."""

import itertools

_counter = itertools.count(1000)


def new_us_number() -> str:
    return f"+1206486{next(_counter):04d}"
