"""SMS double opt-in registration: domain, ports, adapters and Lambda handlers."""
