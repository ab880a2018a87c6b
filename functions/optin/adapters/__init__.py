"""Adapters: implementations of the ports (SQLite, in-memory, AWS through boto3)."""
