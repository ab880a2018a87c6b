"""python -m local.stepfunctions.validation [--type EXPRESS] FILE...: the engine's checks on
definition files; prints every finding, exits 1 when any file has an ERROR.

Files may hold DefinitionSubstitutions placeholders (`${Name}`) as SAM templates use them:
each is replaced before checking, as CloudFormation would, by a dummy value (a Lambda ARN for
names ending in `Arn`, else `1`), so the check sees a definition AWS could receive."""

from __future__ import annotations

import argparse
import pathlib
import re
import sys

from . import ERROR, validate

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.:-]+)\}")


def _dummy(name: str) -> str:
    if name.endswith("Arn"):
        return f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    return "1"


def substitute_placeholders(text: str) -> str:
    return PLACEHOLDER.sub(lambda m: _dummy(m.group(1)), text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.stepfunctions.validation")
    parser.add_argument("files", nargs="+", type=pathlib.Path)
    parser.add_argument("--type", choices=("STANDARD", "EXPRESS"), default="STANDARD")
    args = parser.parse_args(argv)
    failed = False
    for path in args.files:
        _, diagnostics = validate(substitute_placeholders(path.read_text()), args.type)
        for d in diagnostics:
            print(f"{path}: {d.severity} {d.code}: {d.message} at {d.location or '/'}")
        if any(d.severity == ERROR for d in diagnostics):
            failed = True
        elif not diagnostics:
            print(f"{path}: OK")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
