"""The real `optin` executable for end-to-end tests: installed once per session the way
`make setup` installs it (setup.py develop, editable, no network), but into a temporary
directory so the shared virtualenv is left as it is."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.runtime import REPO_ROOT


@dataclass(frozen=True)
class Optin:
    exe: Path
    env: dict[str, str]

    def run(
        self, *argv: str, api_key: str | None = None, timeout: float = 60, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = dict(self.env)
        if api_key is not None:
            env["OPTIN_API_KEY"] = api_key
        return subprocess.run(
            [str(self.exe), *argv],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            input=input,
            check=False,
        )


def install(where: Path) -> Optin:
    site, scripts = where / "site", where / "bin"
    site.mkdir(parents=True)
    scripts.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("OPTIN_API_KEY", None)
    env.pop("OPTIN_API_URL", None)
    done = subprocess.run(
        [
            sys.executable,
            "setup.py",
            "--quiet",
            "develop",
            "--no-deps",
            "--install-dir",
            str(site),
            "--script-dir",
            str(scripts),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    exe = scripts / "optin"
    assert exe.exists(), "setup.py develop wrote no optin script"
    # Python reads .pth files only in site directories, not on PYTHONPATH: put the paths the
    # develop install's easy-install.pth names on it, as site.addsitedir would.
    paths = [str(site)]
    for line in (site / "easy-install.pth").read_text().splitlines():
        if line.strip() and not line.startswith(("import", "#")):
            paths.append(line.strip())
    run_env = {**env, "PYTHONPATH": os.pathsep.join(paths)}
    return Optin(exe, run_env)
