"""Benchmarks, run on demand (`make bench`); they print figures and ratios, they assert nothing."""

import sys
from pathlib import Path

# The Lambda package, importable as pytest's `pythonpath` makes it (bench/console_list.py
# fills the local store through its SQLite adapter).
_FUNCTIONS = str(Path(__file__).resolve().parents[1] / "functions")
if _FUNCTIONS not in sys.path:
    sys.path.insert(0, _FUNCTIONS)
