"""The benchmark's local transports answer what Anymail and Django's SMTP backend expect."""

from __future__ import annotations

import pytest
from anymail.exceptions import AnymailAPIError
from django.core.mail import EmailMessage, get_connection

from tests.fakes.postmark import BATCH_LIMIT
from tests.fakes.recorder import Recorder
from tests.fakes.smtp_sink import Sink


def postmark(server, token="bench-token"):  # noqa: S107 (the fake accepts any token)
    return get_connection(
        "anymail.backends.postmark.EmailBackend",
        server_token=token,
        api_url=f"http://127.0.0.1:{server.server_address[1]}/",
    )


def received(server) -> list[list[str]]:
    server.RequestHandlerClass.recorder.stats()  # flushes the log
    text = server.RequestHandlerClass.recorder.path.read_text()
    return [line.split("\t") for line in text.splitlines()]


def test_it_accepts_single_and_batch_sends_like_postmark(fake_postmark):
    single = EmailMessage("Hi", "Body", "news@example.com", ["Ann <Ann@example.com>"])
    single.metadata = {"campaign_id": "7", "delivery_id": "70"}
    batch = EmailMessage("Hi", "Body", "news@example.com", ["b@example.com", "c@example.com"])
    batch.merge_metadata = {
        "b@example.com": {"campaign_id": "7", "delivery_id": "71"},
        "c@example.com": {"campaign_id": "7", "delivery_id": "72"},
    }
    with postmark(fake_postmark) as connection:
        assert connection.send_messages([single, batch]) == 2

    assert single.anymail_status.status == {"sent"}
    assert batch.anymail_status.status == {"sent"}
    assert len({s.message_id for s in batch.anymail_status.recipients.values()}) == 2
    assert received(fake_postmark) == [
        ["idle", "email", "ann@example.com", "7", "70"],
        ["idle", "email/batch", "b@example.com", "7", "71"],
        ["idle", "email/batch", "c@example.com", "7", "72"],
    ]


def test_it_refuses_batches_over_postmarks_limit_and_missing_tokens(fake_postmark):
    too_many = EmailMessage(
        "Hi", "Body", "news@example.com", [f"r{i}@example.com" for i in range(BATCH_LIMIT + 1)]
    )
    too_many.merge_metadata = {f"r{i}@example.com": {} for i in range(BATCH_LIMIT + 1)}
    with pytest.raises(AnymailAPIError, match="at most 500"):
        postmark(fake_postmark).send_messages([too_many])
    with pytest.raises(AnymailAPIError):
        postmark(fake_postmark, token="").send_messages(
            [EmailMessage("Hi", "Body", "news@example.com", ["a@example.com"])]
        )
    assert received(fake_postmark) == []


def test_it_counts_smtp_recipients_per_phase(tmp_path):
    recorder = Recorder(tmp_path / "smtp.tsv")
    recorder.start_phase("campaign")
    sink = Sink(recorder).start()
    try:
        connection = get_connection(
            "django.core.mail.backends.smtp.EmailBackend", host="127.0.0.1", port=sink.port
        )
        first = EmailMessage(
            "Hi", "Body\n.\nline", "news@example.com", ["A@example.com", "b@c.com"]
        )
        second = EmailMessage("Hi", "Ünïcode " * 2000, "news@example.com", ["d@example.com"])
        assert connection.send_messages([first, second]) == 2
    finally:
        sink.stop()
    assert recorder.stats()["messages"] == 3
    lines = (tmp_path / "smtp.tsv").read_text().splitlines()
    assert [line.split("\t")[:3] for line in lines] == [
        ["campaign", "smtp", "a@example.com"],
        ["campaign", "smtp", "b@c.com"],
        ["campaign", "smtp", "d@example.com"],
    ]
