"""A running sandbox Repzo and an HTTP client with its key, for the sandbox's own tests."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandboxes.repzo import RepzoSandbox

KEY = "test-key"


@pytest.fixture
def sandbox() -> Iterator[RepzoSandbox]:
    with RepzoSandbox(api_key=KEY) as server:
        yield server


@pytest.fixture
def client(sandbox: RepzoSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, headers={"api-key": KEY}, timeout=10) as http:
        yield http
