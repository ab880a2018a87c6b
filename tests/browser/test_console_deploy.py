"""`make deploy-web` (aws s3 sync web/ …) uploads the console with types a browser accepts.

Module scripts are refused unless served with a JavaScript MIME type, and with
`X-Content-Type-Options: nosniff` (the stack's response headers) so is a stylesheet that is
not text/css. The AWS CLI's sync recurses into web/console/ and web/vendor/ and sets each
object's Content-Type from Python's mimetypes: checked here with the machine's mime.types
and without any (a deploying machine may have none). No browser needed.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

import pytest
from awscli.customizations.s3.utils import guess_content_type

WEB = Path(__file__).resolve().parents[2] / "web"
JAVASCRIPT = {"text/javascript", "application/javascript"}
EXPECTED = {
    ".js": JAVASCRIPT,
    ".mjs": JAVASCRIPT,
    ".css": {"text/css"},
    ".html": {"text/html"},
    ".svg": {"image/svg+xml"},
}


def console_files() -> list[Path]:
    files = [*(WEB / "console").rglob("*"), *(WEB / "vendor").rglob("*")]
    return [*sorted(p for p in files if p.suffix in EXPECTED), WEB / "favicon.svg"]


def test_the_console_has_what_the_pages_load() -> None:
    names = {p.relative_to(WEB).as_posix() for p in console_files()}
    assert {
        "console/index.html",
        "console/signup.html",
        "console/reports.html",
        "console/js/actions.js",
        "console/js/reports.js",
        "console/js/graph-status.js",
        "console/js/graph.js",
        "console/css/console.css",
        "vendor/cytoscape/cytoscape.esm.min.mjs",
        "vendor/cytoscape-dagre/cytoscape-dagre.min.mjs",
    } <= names


@pytest.mark.parametrize("path", console_files(), ids=lambda p: p.relative_to(WEB).as_posix())
def test_sync_gives_each_file_a_type_browsers_accept(path: Path) -> None:
    assert guess_content_type(str(path)) in EXPECTED[path.suffix]
    bare = mimetypes.MimeTypes(filenames=())  # Python's own table, no /etc/mime.types
    assert bare.guess_type(path.name)[0] in EXPECTED[path.suffix]
