from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.runtime import LocalRuntime


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[LocalRuntime]:
    """The whole system, started as `make run` starts it, on a free port and a fresh data dir."""
    rt = LocalRuntime(tmp_path / "runtime")
    rt.start()
    try:
        yield rt
    finally:
        rt.stop()


@pytest.fixture(scope="module")
def shared_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    """One runtime for a module's tests; each test uses its own phone numbers."""
    rt = LocalRuntime(Path(tmp_path_factory.mktemp("shared")) / "runtime")
    rt.start()
    try:
        yield rt
    finally:
        rt.stop()


@pytest.fixture
def make_runtime(tmp_path: Path) -> Iterator[Callable[..., LocalRuntime]]:
    """Like `runtime`, with template parameter overrides and extra environment."""
    started: list[LocalRuntime] = []

    def make(
        parameters: dict[str, str] | None = None, env: dict[str, str] | None = None
    ) -> LocalRuntime:
        rt = LocalRuntime(tmp_path / f"runtime{len(started)}", parameters, env)
        started.append(rt)
        return rt.start()

    yield make
    for rt in started:
        rt.stop()
