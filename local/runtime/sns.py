"""Publishes to a template SNS topic by invoking its subscribed functions with SNS events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from local.runtime.lambdas import LambdaRunner
from local.runtime.template import Application


class SnsPublisher:
    def __init__(self, app: Application, runner: LambdaRunner, topic_id: str) -> None:
        if topic_id not in app.topics:
            raise ValueError(f"no SNS topic {topic_id} in the template")
        self.app = app
        self.runner = runner
        self.topic_id = topic_id

    def __call__(self, message: str) -> None:
        topic_arn = self.app.topics[self.topic_id]
        for fn in self.app.subscribers(self.topic_id):
            event = {
                "Records": [
                    {
                        "EventSource": "aws:sns",
                        "EventVersion": "1.0",
                        "EventSubscriptionArn": f"{topic_arn}:{uuid.uuid4()}",
                        "Sns": {
                            "Type": "Notification",
                            "MessageId": str(uuid.uuid4()),
                            "TopicArn": topic_arn,
                            "Subject": None,
                            "Message": message,
                            "Timestamp": datetime.now(UTC)
                            .isoformat(timespec="milliseconds")
                            .replace("+00:00", "Z"),
                            "SignatureVersion": "1",
                            "Signature": "LOCAL",
                            "SigningCertUrl": "http://127.0.0.1/local-sns.pem",
                            "UnsubscribeUrl": "http://127.0.0.1/local-sns-unsubscribe",
                            "MessageAttributes": {},
                        },
                    }
                ]
            }
            # A raised error makes the caller retry, as SNS retries a failed Lambda delivery.
            self.runner.invoke(fn.logical_id, event)
