"""`optin`: the project's command-line tool (docs/cli.md).

It runs from the checkout (an editable install: `make setup`), and reuses the functions'
package (functions/optin: ports, adapters, use cases) and the local runtime's helpers
(local/keys.py, local/users.py), which live beside it rather than in any installed package.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

for _path in (REPO_ROOT / "functions", REPO_ROOT):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
