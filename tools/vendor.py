"""make vendor: the console's JavaScript libraries, checked against the npm registry.

    python tools/vendor.py            # verify web/vendor/ (the default; exit 1 on any mismatch)
    python tools/vendor.py --write    # (re)write web/vendor/ from the tarballs, then verify

Each package in MANIFEST is downloaded again from the npm registry (the one `npm config get
registry` names, or $NPM_CONFIG_REGISTRY), its bytes are checked against the `integrity`
(sha512) that the registry published for that version, and every vendored file must be
byte-for-byte the file of that name inside the tarball. web/vendor/README.md must list each
package's name, version and integrity, so the table people read cannot drift from what is
checked. Standard library only (plus the npm client, when present, to find the registry).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "web" / "vendor"
README = VENDOR / "README.md"
USER_AGENT = "sms-optin-vendor/1"


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    # The tarball's path below the registry's base URL, as `npm view NAME dist.tarball` gives it.
    tarball: str
    integrity: str
    # tarball member -> file under web/vendor/<folder>/
    files: dict[str, str]
    folder: str


MANIFEST: tuple[Package, ...] = (
    Package(
        name="cytoscape",
        version="3.35.0",
        tarball="cytoscape/-/cytoscape-3.35.0.tgz",
        integrity="sha512-sMvBIXiGMnhkCaWz2R06FwF/27MNlS+Tqvi17foO9UhnUg3XGZccKjxsvEqQFAQYMSSZmN5SxYzUYlQ0DOJJ3g==",
        files={
            "package/dist/cytoscape.esm.min.mjs": "cytoscape.esm.min.mjs",
            "package/LICENSE": "LICENSE",
        },
        folder="cytoscape",
    ),
    Package(
        name="cytoscape-dagre",
        version="4.0.1",
        tarball="cytoscape-dagre/-/cytoscape-dagre-4.0.1.tgz",
        integrity="sha512-hyNdh8Vp1nwzBcjHnM4c71G81bFhPmQYLXD2HM9AZIvl+8TrMzWEOPW45hF/XOBQiEguPcDQzi6VrXR1XBcXOA==",
        files={
            "package/dist/cytoscape-dagre.min.mjs": "cytoscape-dagre.min.mjs",
            "package/LICENSE": "LICENSE",
        },
        folder="cytoscape-dagre",
    ),
    # cytoscape-dagre 4 declares no runtime dependency: its dist files bundle @dagrejs/dagre
    # 3.0.0, which bundles @dagrejs/graphlib 4.0.1. Their code ships inside
    # cytoscape-dagre.min.mjs; their licences are vendored from their own tarballs.
    Package(
        name="@dagrejs/dagre",
        version="3.0.0",
        tarball="@dagrejs/dagre/-/dagre-3.0.0.tgz",
        integrity="sha512-ZzhnTy1rfuoew9Ez3EIw4L2znPGnYYhfn8vc9c4oB8iw6QAsszbiU0vRhlxWPFnmmNSFAkrYeF1PhM5m4lAN0Q==",
        files={"package/LICENSE": "LICENSE"},
        folder="dagre",
    ),
    Package(
        name="@dagrejs/graphlib",
        version="4.0.1",
        tarball="@dagrejs/graphlib/-/graphlib-4.0.1.tgz",
        integrity="sha512-IvcV6FduIIAmLwnH+yun+QtV36SC7mERqa86aClNqmMN09WhmPPYU8ckHrZBozErf+UvHPWOTJYaGYiIcs0DgA==",
        files={"package/LICENSE": "LICENSE"},
        folder="graphlib",
    ),
    Package(
        name="axe-core",
        version="4.14.1",
        tarball="axe-core/-/axe-core-4.14.1.tgz",
        integrity="sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==",
        files={
            "package/axe.min.js": "axe.min.js",
            "package/LICENSE": "LICENSE",
            "package/LICENSE-3RD-PARTY.txt": "LICENSE-3RD-PARTY.txt",
        },
        folder="axe-core",
    ),
    # The sign-up form's proof-of-work widget. Its external build: the worker a file of its
    # own and the styles a stylesheet, so the CSP needs neither blob: nor inline styles.
    Package(
        name="altcha",
        version="2.3.0",
        tarball="altcha/-/altcha-2.3.0.tgz",
        integrity="sha512-vl8I0dQvSQB7/Mx09XuWZ1+LdSP7vEda6OLbg9kUQ2ZO2LT7MzgUyLK7Iips+GAV6c0ntVcS1XWOqhEPpwbDhQ==",
        files={
            "package/dist_external/altcha.js": "altcha.js",
            "package/dist_external/worker.js": "worker.js",
            "package/dist_external/altcha.css": "altcha.css",
            "package/LICENSE.txt": "LICENSE.txt",
        },
        folder="altcha",
    ),
)


def registry_base() -> str:
    """The npm registry's base URL: $NPM_CONFIG_REGISTRY, else what the npm client uses."""
    base = os.environ.get("NPM_CONFIG_REGISTRY", "").strip()
    if not base and shutil.which("npm"):
        found = subprocess.run(
            ["npm", "config", "get", "registry"], capture_output=True, text=True, check=False
        )
        base = found.stdout.strip() if found.returncode == 0 else ""
    if not base.startswith("https://"):
        raise SystemExit("no npm registry: install npm or set NPM_CONFIG_REGISTRY to its https URL")
    return base.rstrip("/") + "/"


def integrity_of(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def download(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with urllib.request.urlopen(request, timeout=120) as response:
        return bytes(response.read())


def members(tarball: bytes, wanted: set[str]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for member in archive.getmembers():
            if member.name in wanted and member.isfile():
                extracted = archive.extractfile(member)
                if extracted is not None:
                    found[member.name] = extracted.read()
    return found


def check_package(package: Package, base: str, write: bool) -> list[str]:
    """Problems with one package ([] when all is well); writes its files first if asked."""
    url = base + package.tarball
    try:
        tarball = download(url)
    except OSError as error:
        return [f"{package.name}: cannot download {url}: {error}"]
    actual = integrity_of(tarball)
    if actual != package.integrity:
        return [f"{package.name}: tarball integrity {actual} != manifest {package.integrity}"]
    contents = members(tarball, set(package.files))
    problems = [
        f"{package.name}: {name} is not in the tarball"
        for name in package.files
        if name not in contents
    ]
    folder = VENDOR / package.folder
    for member, target_name in package.files.items():
        if member not in contents:
            continue
        target = folder / target_name
        if write:
            folder.mkdir(parents=True, exist_ok=True)
            target.write_bytes(contents[member])
        if not target.is_file():
            problems.append(f"{package.name}: {target.relative_to(ROOT)} is missing")
        elif target.read_bytes() != contents[member]:
            problems.append(f"{package.name}: {target.relative_to(ROOT)} differs from {member}")
    return problems


def check_readme(manifest: tuple[Package, ...]) -> list[str]:
    text = README.read_text(encoding="utf-8") if README.is_file() else ""
    problems = []
    for package in manifest:
        row = f"| {package.name} | {package.version} |"
        if row not in text or package.integrity not in text or package.tarball not in text:
            problems.append(
                f"web/vendor/README.md: no row for {package.name} {package.version} with its "
                "tarball and integrity"
            )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite web/vendor/ first")
    args = parser.parse_args(argv)
    base = registry_base()
    problems: list[str] = []
    for package in MANIFEST:
        found = check_package(package, base, args.write)
        status = "ok" if not found else "MISMATCH"
        print(f"{status:8} {package.name}@{package.version} ({len(package.files)} files)")
        problems += found
    problems += check_readme(MANIFEST)
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
