"""How the tests run the small HTTP servers they stand up (stand-ins for webhooks, Cognito,
the SMS API, hostile origins)."""

# socketserver's serve_forever looks for shutdown() once per poll_interval, 0.5 s by default:
# every fixture that stopped its server waited up to that long in teardown. Pass as
# threading.Thread(target=server.serve_forever, kwargs=QUICK_SHUTDOWN).
QUICK_SHUTDOWN: dict[str, float] = {"poll_interval": 0.02}
