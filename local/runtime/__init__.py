"""The embedded runtime's parts: template reader, Lambda runner, SMS sandbox, HTTP front door."""
