"""Pure domain: no AWS SDK, no I/O. Everything here is tested without mocks."""
