"""Retry budgets per flow run, unreachable systems, and the progress clock, without a network
and without real waiting (except where concurrent waits are the point)."""

from __future__ import annotations

import asyncio
import io
import json
import socket
from collections.abc import Callable, Iterator

import httpx
import pytest
import respx

from connectors.repzo import RepzoConnector
from connectors.repzo.client import RepzoClient
from syncer.logs import configure_logging
from syncer.remote.budget import current_run, run_scope
from syncer.remote.errors import RetryBudgetExhausted, SkippableRemoteError, Unreachable
from syncer.remote.http import JsonHttpClient
from syncer.remote.retry import RetryPolicy
from tests.repzo.fakes import API_KEY, BASE, FakeRepzo, RecordingSleep, settings

pytestmark = pytest.mark.anyio

OK = httpx.Response(200, json={"ok": True})
UNAVAILABLE = httpx.Response(503, json={"message": "maintenance"})


class FakeTime:
    """A clock that the fake sleep moves on: waiting costs no real time, but budgets that
    measure time see it pass."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


@pytest.fixture
def fake() -> Iterator[FakeRepzo]:
    with respx.mock(base_url=BASE, assert_all_called=True, assert_all_mocked=True) as router:
        yield FakeRepzo(router)


@pytest.fixture
def time_() -> FakeTime:
    return FakeTime()


class Scripted(httpx.AsyncBaseTransport):
    """Answers requests in order (the last answer repeats): responses, or exceptions raised
    with their causes intact (respx replaces an exception's cause with its own, and the cause
    is what tells a refused connection from an unknown host)."""

    def __init__(self, *steps: httpx.Response | Callable[[], Exception]) -> None:
        self.steps = list(steps)
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, httpx.Response):
            return httpx.Response(step.status_code, headers=step.headers, content=step.content)
        raise step()


def http(
    time_: FakeTime, transport: httpx.AsyncBaseTransport | None = None, **policy: float
) -> JsonHttpClient:
    """A client with a deterministic policy (no jitter), waiting on the fake clock."""
    return JsonHttpClient(
        system="repzo",
        base_url=BASE,
        retry=RetryPolicy(jitter=0, **policy),
        sleep=time_.sleep,
        transport=transport,
    )


def refused() -> httpx.ConnectError:
    """What httpx raises for a closed port: its own error, caused by the socket's."""
    error = httpx.ConnectError("All connection attempts failed")
    error.__cause__ = ConnectionRefusedError(111, "Connection refused")
    return error


def unknown_host() -> httpx.ConnectError:
    error = httpx.ConnectError("[Errno -2] Name or service not known")
    error.__cause__ = socket.gaierror(-2, "Name or service not known")
    return error


# -- one budget per run and system --------------------------------------------------------------


async def test_calls_of_one_run_share_one_budget(fake, time_):
    client = http(time_, max_total_wait=7)
    first = fake.script("GET", "/first", UNAVAILABLE, UNAVAILABLE, UNAVAILABLE, OK)
    second = fake.script("GET", "/second", UNAVAILABLE, UNAVAILABLE, UNAVAILABLE, OK)
    third = fake.script("GET", "/third", UNAVAILABLE)
    with run_scope(clock=time_.clock):
        await client.request("GET", "/first", operation="get")  # waits 0.5 + 1 + 2
        await client.request("GET", "/second", operation="get")  # 3.5 more: 7 in all
        with pytest.raises(RetryBudgetExhausted) as caught:
            await client.request("GET", "/third", operation="get")
        # Alone, each call would have had 7 s of its own; together they had 7 s.
        assert sum(time_.waits) == 7
        assert third.call_count == 1  # the first failure after the budget is spent gives up
        error = caught.value
        assert error.reason == "run_budget" and error.exit_code == 3
        assert error.message == (
            "repzo is temporarily unavailable (503): maintenance; gave up on GET "
            f"{BASE}/third after 1 attempt: this run has waited 7.0s for repzo in all "
            "(max_retry_wait is 7s)"
        )
        # The run gave up on repzo: its remaining requests fail at once, without being sent.
        with pytest.raises(RetryBudgetExhausted) as again:
            await client.request("GET", "/first", operation="get")
        assert again.value.reason == "already_gave_up" and again.value.attempts == 0
        assert again.value.path == "/first" and "already gave up on repzo" in again.value.message
        assert first.call_count == 4 and second.call_count == 4
    assert sum(time_.waits) == 7


async def test_each_run_gets_a_fresh_budget_and_calls_outside_a_run_their_own(fake, time_):
    client = http(time_, max_total_wait=2)
    failing = fake.script("GET", "/down", UNAVAILABLE)
    flaky = fake.script("GET", "/flaky", UNAVAILABLE, OK)
    with run_scope(clock=time_.clock), pytest.raises(RetryBudgetExhausted):
        await client.request("GET", "/down", operation="get")
    assert sum(time_.waits) == 2  # 0.5 + 1, then the last step cut to the 0.5 left
    assert failing.call_count == 4
    with run_scope(clock=time_.clock) as second_run:
        await client.request("GET", "/flaky", operation="get")
        assert time_.waits[-1] == 0.5 and flaky.call_count == 2
        assert second_run.budget("repzo", max_wait=2, max_connect_wait=30).left() == 1.5
    assert current_run() is None
    # Outside a run the call has its policy's own limit, as before.
    before = len(time_.waits)
    with pytest.raises(RetryBudgetExhausted) as caught:
        await client.request("GET", "/down", operation="get")
    assert sum(time_.waits[before:]) <= 2 and caught.value.reason == "max_retry_wait"


async def test_waits_of_concurrent_calls_count_once():
    # Real (short) waits: four writes waiting out the same outage side by side cost the run
    # the time it waited, not four times it.
    client = JsonHttpClient(
        system="repzo",
        base_url=BASE,
        retry=RetryPolicy(initial_wait=0.05, jitter=0, max_total_wait=10),
    )
    with respx.mock(base_url=BASE) as router:
        fake = FakeRepzo(router)
        for n in range(4):
            fake.script("PUT", f"/client/{n}", UNAVAILABLE, UNAVAILABLE, OK)
        with run_scope() as scope:
            await asyncio.gather(
                *(
                    client.request("PUT", f"/client/{n}", operation="write", json_body={})
                    for n in range(4)
                )
            )
            spent = scope.budget("repzo", max_wait=10, max_connect_wait=30).spent
    assert client.stats.waited == pytest.approx(0.6)  # 4 x (0.05 + 0.1) asked for
    assert 0.15 <= spent < 0.3  # what the run waited: 0.15 s and a little


async def test_a_system_that_hangs_spends_the_budget_on_its_timeouts(time_):
    def hangs() -> Exception:
        time_.now += 60  # each attempt waits out a 60 s read timeout
        return httpx.ReadTimeout("no answer")

    route = Scripted(hangs)
    client = http(time_, route, max_total_wait=100)
    with run_scope(clock=time_.clock), pytest.raises(RetryBudgetExhausted) as caught:
        await client.request("GET", "/client", operation="list")
    # 60 s, a 0.5 s wait, 60 s more: the run has spent its 100 s, although it slept 0.5 s.
    assert route.calls == 2 and time_.waits == [0.5]
    assert caught.value.reason == "run_budget"
    assert "this run has waited 120.5s for repzo in all" in caught.value.message


# -- unreachable systems -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "cause"),
    [
        (refused, "connection refused"),
        (unknown_host, "unknown host"),
        (lambda: httpx.ConnectTimeout("timed out"), "connection timed out"),
    ],
    ids=["refused", "unknown-host", "connect-timeout"],
)
async def test_an_unreachable_system_gives_up_after_max_connect_wait(failure, cause):
    sleep = RecordingSleep()
    route = Scripted(failure)
    client = RepzoClient(
        settings(max_connect_wait="5s", max_retry_wait="10m"), sleep=sleep, transport=route
    )
    with pytest.raises(RetryBudgetExhausted) as caught:
        await client.get(client.resource("client"), "abc")
    error = caught.value
    assert error.reason == "max_connect_wait" and isinstance(error.last, Unreachable)
    assert error.last.cause == cause and error.exit_code == 3
    # 0.5 + 1 + 2 + 1.5 (cut to what was left of the 5 s), plus jitter on the first three.
    assert 4.9 <= sum(sleep.waits) <= 5.0 and route.calls == 5
    assert error.message.startswith(
        f"cannot connect to repzo at {BASE}/client/abc ({cause}); gave up after 5 attempts and "
    )
    assert error.message.endswith("s (max_connect_wait is 5s)")
    assert error.url == f"{BASE}/client/abc" and API_KEY not in str(error.fields())


async def test_an_unreachable_system_in_a_run_gives_up_for_the_whole_run(time_):
    route = Scripted(refused)
    client = http(time_, route, max_connect_wait=3)
    with run_scope(clock=time_.clock):
        with pytest.raises(RetryBudgetExhausted) as caught:
            await client.request("GET", "/client", operation="list")
        # The last step is cut to what is left of the 3 s.
        assert time_.waits == pytest.approx([0.5, 1.0, 1.5], abs=1e-3)
        assert caught.value.message == (
            f"cannot connect to repzo at {BASE}/client (connection refused); gave up after 4 "
            "attempts and 3.0s (max_connect_wait is 3s)"
        )
        with pytest.raises(RetryBudgetExhausted, match="already gave up on repzo"):
            await client.request("GET", "/client", operation="list")
    assert route.calls == 4


async def test_an_answer_starts_the_unreachable_count_again(time_):
    route = Scripted(refused, refused, UNAVAILABLE, refused, OK)
    client = http(time_, route, max_connect_wait=2)
    with run_scope(clock=time_.clock):
        await client.request("GET", "/client", operation="list")
    # Refused twice (1.5 s of the 2 s gone), then a 503: the system is there after all. Refused
    # again, it has 2 s afresh (the 4 s step cut to them), and then it answers.
    assert time_.waits == pytest.approx([0.5, 1.0, 2.0, 2.0], abs=1e-3)
    assert route.calls == 5


async def test_credentials_and_query_values_never_reach_the_message(time_):
    client = JsonHttpClient(
        system="erp",
        base_url="https://sync:pw-9f8e7d@erp.test/api",
        retry=RetryPolicy(max_attempts=2),
        sleep=time_.sleep,
        transport=Scripted(refused),
    )
    with pytest.raises(RetryBudgetExhausted) as caught:
        await client.request("GET", "/customers", operation="list", params={"token": "tk-5566"})
    text = caught.value.message + json.dumps(caught.value.fields())
    assert "cannot connect to erp at https://erp.test/api/customers (connection refused)" in text
    assert "pw-9f8e7d" not in text and "tk-5566" not in text and "sync:" not in text


async def test_a_connection_check_names_the_system_and_the_url():
    sleep = RecordingSleep()
    route = Scripted(refused)
    connector = RepzoConnector("repzo", settings(), sleep=sleep, transport=route)
    result = await connector.check()
    assert not result.ok
    assert f"cannot connect to repzo at {BASE}/client (connection refused)" in result.message
    assert route.calls == 2 and sum(sleep.waits) < 5  # still fails fast


# -- logs and progress -----------------------------------------------------------------------------


@pytest.fixture
def json_logs():
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    configure_logging("INFO", "auto")


async def test_every_wait_is_a_warning_with_the_budget_left(time_, json_logs):
    client = http(time_, Scripted(UNAVAILABLE, refused, OK), max_total_wait=10, max_connect_wait=30)
    with run_scope(clock=time_.clock):
        await client.request("GET", "/client", operation="list")
    lines = [line for line in json_logs() if line["event"] == "retrying request"]
    assert [line["level"] for line in lines] == ["warning", "warning"]
    first, second = lines
    assert first["reason"] == "repzo is temporarily unavailable (503): maintenance"
    assert (first["attempt"], first["wait_seconds"], first["budget_left"]) == (1, 0.5, 9.5)
    assert first["status"] == 503 and first["url"] == f"{BASE}/client"
    assert second["reason"] == f"cannot connect to repzo at {BASE}/client (connection refused)"
    assert (second["attempt"], second["wait_seconds"], second["budget_left"]) == (2, 1.0, 8.5)
    assert second["connect_left"] == 29.0


async def test_settled_answers_are_progress_and_retried_ones_are_not(fake, time_):
    idle_at_each_wait: list[float] = []

    async def sleep(seconds: float) -> None:
        idle_at_each_wait.append(scope.idle_for())
        await time_.sleep(seconds)

    client = JsonHttpClient(system="repzo", base_url=BASE, retry=RetryPolicy(jitter=0), sleep=sleep)
    fake.script("GET", "/stormy", UNAVAILABLE, UNAVAILABLE, UNAVAILABLE, UNAVAILABLE, OK)
    fake.script("POST", "/refused", httpx.Response(400, json={"message": "name is required"}))
    with run_scope(clock=time_.clock) as scope:
        await client.request("GET", "/stormy", operation="get")
        assert idle_at_each_wait == [0, 0.5, 1.5, 3.5]  # a 503 storm is no progress
        assert scope.idle_for() == 0  # the 200 is
        time_.now += 60
        with pytest.raises(SkippableRemoteError):
            await client.request("POST", "/refused", operation="write", json_body={})
        assert scope.idle_for() == 0  # a refused record settles its request: progress too
