"""Structured logs: bound context on every line, JSON off a terminal, secrets masked."""

from __future__ import annotations

import io
import json
import logging

import pytest

from syncer.logs import Redactor, configure_logging, get_logger, log_context


@pytest.fixture
def json_logs():
    stream = io.StringIO()
    configure_logging("INFO", "auto", secrets=["topsecretvalue"], stream=stream)  # not a TTY
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    configure_logging("INFO", "auto")


def test_json_off_a_terminal_with_context_on_every_line(json_logs):
    log = get_logger("syncer.test")
    with log_context(flow="customers", run_id="r-1", connector="erp", stream="customers"):
        log.info("page read", records=100)
        logging.getLogger("some.library").warning("library line")
        with log_context(page=2):
            log.info("page written")
    log.info("outside")
    lines = json_logs()
    assert [line["event"] for line in lines] == [
        "page read",
        "library line",
        "page written",
        "outside",
    ]
    for line in lines[:3]:
        assert line["flow"] == "customers"
        assert line["run_id"] == "r-1"
        assert line["connector"] == "erp"
        assert line["stream"] == "customers"
        assert line["timestamp"].endswith("Z")
    assert lines[0]["records"] == 100 and lines[0]["level"] == "info"
    assert lines[1]["logger"] == "some.library" and lines[1]["level"] == "warning"
    assert lines[2]["page"] == 2
    assert "flow" not in lines[3] and "page" not in lines[3]


def test_console_format_is_human_readable():
    stream = io.StringIO()
    configure_logging("INFO", "console", stream=stream)
    with log_context(flow="customers"):
        get_logger("t").info("hello", count=3)
    text = stream.getvalue()
    configure_logging("INFO", "auto")
    assert "hello" in text and "count=3" in text and "flow=customers" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


def test_level_filters(json_logs):
    get_logger("t").debug("hidden")
    get_logger("t").info("shown")
    assert [line["event"] for line in json_logs()] == ["shown"]


def test_secrets_are_masked_everywhere(json_logs):
    log = get_logger("t")
    log.info(
        "request",
        headers={"api-key": "abc-123-xyz", "Authorization": "Bearer tok-999", "accept": "json"},
        url="postgresql://syncer:hunter22@db:5432/x",
        text="sent api-key: key-777 and Authorization: Bearer tok-888 to https://u:pw-555@host/p",
        nested=[{"password": "p-1"}, "the topsecretvalue leaked"],
        password="p-2",
    )
    try:
        raise ValueError("refused token=tok-444 and topsecretvalue")
    except ValueError:
        log.exception("failed")
    raw = "\n".join(json.dumps(line) for line in json_logs())
    for secret in (
        "abc-123-xyz",
        "tok-999",
        "hunter22",
        "key-777",
        "tok-888",
        "pw-555",
        "p-1",
        "p-2",
        "topsecretvalue",
        "tok-444",
    ):
        assert secret not in raw, secret
    first = json_logs()[0]
    assert first["headers"] == {"api-key": "***", "Authorization": "***", "accept": "json"}
    assert first["url"] == "postgresql://syncer:***@db:5432/x"


def test_redactor_leaves_ordinary_text_alone():
    redactor = Redactor(["s3cr3t"])
    assert (
        redactor.text("read 100 client records from page 3")
        == "read 100 client records from page 3"
    )
    assert redactor.value({"count": 3, "ok": True, "ratio": 0.5}) == {
        "count": 3,
        "ok": True,
        "ratio": 0.5,
    }
    # Too-short secrets would mask common text; they are ignored.
    assert Redactor(["ab"]).text("abc") == "abc"
