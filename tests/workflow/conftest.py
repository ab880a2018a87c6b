from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.runtime import LocalRuntime


@pytest.fixture(scope="module")
def shared_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    """One runtime for a module's tests; each test uses its own phone numbers."""
    rt = LocalRuntime(Path(tmp_path_factory.mktemp("workflow")) / "runtime")
    rt.start()
    try:
        yield rt
    finally:
        rt.stop()
