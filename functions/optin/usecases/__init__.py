"""Use cases, one module per kind of caller, written against the ports only (no boto3)."""
