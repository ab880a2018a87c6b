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


@pytest.fixture(scope="session")
def shared_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    """One runtime, default parameters, for every module that asks for it: each start spawns
    the runtime and, on first use, a Lambda worker per function (about a second of CPU each),
    so sharing it is most of what keeps the suite fast. The tests on it use their own phone
    numbers (tests.support.numbers) and console user names, look up only what they made, and
    measure counters (the funnel) as differences. A test that needs an empty runtime, other
    parameters, a kill or a restart starts its own."""
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


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many local runtimes the session started, and where: each start spawns the runtime
    and its Lambda workers, so this is the first figure to watch when the suite slows down."""
    from tests.support.runtime import STARTS

    if not STARTS:
        return
    per_module: dict[str, list[float]] = {}
    for module, seconds in STARTS:
        per_module.setdefault(module, []).append(seconds)
    total = sum(seconds for _, seconds in STARTS)
    terminalreporter.write_sep("-", f"{len(STARTS)} runtime start-ups, {total:.1f} s until ready")
    for module, times in sorted(per_module.items(), key=lambda kv: -sum(kv[1])):
        terminalreporter.write_line(f"{len(times):4d} {sum(times):7.1f} s  {module}")
