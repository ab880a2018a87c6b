"""The embedded runtime: runs template.yaml on one machine with no AWS account and no Docker."""
