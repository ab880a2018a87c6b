"""The sandbox's conversation list (the phone simulator's left column, the benchmarks' poll):
one row per number, its message count and its newest message, newest conversation first."""

from pathlib import Path

from tests.unit.local_runtime.test_sms_sandbox import sandbox

ALICE = "+12064860001"
BOB = "+12064860002"


def test_each_conversation_shows_its_own_newest_message_and_count(tmp_path: Path) -> None:
    sms = sandbox(tmp_path)
    sms.send_text_message({"DestinationPhoneNumber": ALICE, "MessageBody": "first to alice"})
    sms.send_text_message({"DestinationPhoneNumber": BOB, "MessageBody": "first to bob"})
    sms.inject_inbound(ALICE, "reply from alice")
    sms.send_text_message({"DestinationPhoneNumber": BOB, "MessageBody": "second to bob"})
    sms.send_text_message({"DestinationPhoneNumber": BOB, "MessageBody": "third to bob"})

    conversations = sms.conversations()

    assert [(c["phoneNumber"], c["messageCount"], c["lastBody"]) for c in conversations] == [
        (BOB, 3, "third to bob"),
        (ALICE, 2, "reply from alice"),
    ]
    newest = sms.db.connect().execute("SELECT MAX(created_at) AS t FROM messages").fetchone()
    assert conversations[0]["lastMessageAt"] == newest["t"]


def test_no_messages_no_conversations(tmp_path: Path) -> None:
    assert sandbox(tmp_path).conversations() == []
