#!/usr/bin/env python3
"""Validate CycloneDX SBOMs against the official CycloneDX 1.6 JSON schema (strict).

Development-time check (the schema and validator come from PyPI's cyclonedx-python-lib, never a
dependency of qforge):
    python3 -m venv /tmp/cdx && /tmp/cdx/bin/pip install 'cyclonedx-python-lib[json-validation]'
    /tmp/cdx/bin/python scripts/validate_sbom.py OUT/sbom.cdx.json [more.cdx.json ...]
Exit status 0 when every document validates, 1 otherwise (the first schema error of each is printed).
"""
import sys

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator


def main(paths):
    validator = JsonStrictValidator(SchemaVersion.V1_6)
    bad = 0
    for p in paths:
        with open(p, encoding="utf-8") as f:
            err = validator.validate_str(f.read())
        if err is None:
            print(f"{p}: valid CycloneDX 1.6")
        else:
            bad += 1
            print(f"{p}: INVALID: {err}")
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1:]))
