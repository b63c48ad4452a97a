"""Fixtures of the Repzo unit tests: the fake API, a sleep that records, client, connector."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import respx

from connectors.repzo import RepzoConnector
from connectors.repzo.client import RepzoClient
from tests.repzo.fakes import BASE, FakeRepzo, RecordingSleep, settings


@pytest.fixture
def fake() -> Iterator[FakeRepzo]:
    with respx.mock(base_url=BASE, assert_all_called=True, assert_all_mocked=True) as router:
        yield FakeRepzo(router)


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def client(fake: FakeRepzo, sleep: RecordingSleep) -> Iterator[RepzoClient]:
    yield RepzoClient(settings(), sleep=sleep)


@pytest.fixture
def connector(fake: FakeRepzo, sleep: RecordingSleep) -> Iterator[RepzoConnector]:
    yield RepzoConnector("repzo", settings(), sleep=sleep)
