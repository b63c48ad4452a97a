"""Facts about a real Repzo API that no document settles, asked of the API itself.

``syncer repzo probe`` runs :func:`probe` against one configured Repzo connector. Each fact is
settled by a few small listings of ``client`` (one larger page for the page-size cap) and comes
back as a :class:`Finding` with evidence a person can check. Every step stands alone: one that
fails makes its own finding ``unknown`` and the others still run.

Only ``write=True`` changes anything: one throwaway client, named so a person recognises it, gets
an ``integration_meta`` key and is then disabled (Repzo's DELETE disables), even when a step in
between failed.

Requests go through the connector's own client, so retries, error classification and the
masking of the API key are the shared ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from itertools import pairwise
from typing import Any, Literal

import httpx

from connectors.repzo.client import RepzoClient, extract_records
from connectors.repzo.registry import Resource
from syncer.connector import Record, parse_instant
from syncer.errors import SyncerError
from syncer.exit_codes import ExitCode
from syncer.logs import Redactor
from syncer.remote.errors import (
    FatalRemoteError,
    RemoteError,
    RetryBudgetExhausted,
    UncertainWrite,
    UnexpectedResponse,
)
from syncer.remote.http import QueryValue
from syncer.remote.retry import RetryPolicy

JsonValue = str | int | float | bool | None

PER_PAGE_CAP = "per_page_cap"
FROM_INCLUSIVE = "from_updatedAt_inclusive"
TO_INCLUSIVE = "to_updatedAt_inclusive"
UNLISTED_PARAMETER = "unlisted_parameter"
VARIANT_TO_UPDATED = "variant_to_updatedAt"
DEFAULT_ORDER = "default_order"
CLOCK_SKEW = "server_clock_skew"
META_BUMPS_UPDATED = "meta_update_bumps_updatedAt"
DELETE_DISABLES = "delete_disables"

READ_FACTS = (
    PER_PAGE_CAP,
    FROM_INCLUSIVE,
    TO_INCLUSIVE,
    UNLISTED_PARAMETER,
    VARIANT_TO_UPDATED,
    DEFAULT_ORDER,
    CLOCK_SKEW,
)
WRITE_FACTS = (META_BUMPS_UPDATED, DELETE_DISABLES)

UNKNOWN = "unknown"
ASKED_PER_PAGE = 1000
"""Large enough to show a cap (Repzo documents 100 for many resources), small enough that one
page is harmless to ask for."""
SAMPLE = 20
PROBE_PARAM = "syncer_probe"
"""The made-up query parameter, and the integration_meta key the write probe sets."""
EARLIEST_MS = 1
"""A to_updatedAt no record can be at or before. Not 0: a server may read 0 as "not given"."""

PREFLIGHT_RETRY = RetryPolicy(max_attempts=2, initial_wait=0.5, max_total_wait=5.0)
"""The first request fails fast: a person is waiting to hear whether Repzo answers at all."""


def probe_retry(max_retry_wait: timedelta, max_connect_wait: timedelta) -> RetryPolicy:
    """The connector's own limits, capped: a probe is a person waiting, not a nightly run."""
    return RetryPolicy(
        max_attempts=4,
        max_total_wait=min(max_retry_wait.total_seconds(), 30.0),
        max_connect_wait=min(max_connect_wait.total_seconds(), 10.0),
    )


@dataclass(frozen=True, slots=True)
class Finding:
    """One fact about the API: its value (JSON), and what was seen that settles it."""

    fact: str
    value: JsonValue
    evidence: str
    at_least: int | None = None
    """For a cap the account was too small to reach: the most it was seen to serve. The value
    stays null, so nothing relies on a bound that is not a cap."""

    def shown(self) -> str:
        """The value as the probe's table prints it."""
        if self.value is None:
            return f"at least {self.at_least}" if self.at_least else UNKNOWN
        if self.fact == CLOCK_SKEW and isinstance(self.value, int | float):
            return f"{self.value:+.1f} s"
        return str(self.value)


@dataclass(slots=True)
class ProbeRecord:
    """The throwaway client of a ``write`` probe, and whether it is left disabled."""

    name: str
    record_id: str | None = None
    disabled: bool = False
    """Left disabled, or gone: nothing of it is active in Repzo."""
    gone: bool = False
    problem: str | None = None
    """Why it may be left enabled (or may exist at all), for the person to act on."""

    def describe(self) -> str:
        if self.record_id is None:
            if self.problem is None:
                return f"No probe client was created ({self.name!r})."
            return f"The probe client {self.name!r} may exist in Repzo: {self.problem}"
        where = f"The probe client {self.name!r} (_id {self.record_id})"
        if self.gone:
            return f"{where} was deleted by Repzo's DELETE: nothing of it is left."
        if self.disabled:
            return f"{where} exists in Repzo, disabled (Repzo's DELETE disables, never deletes)."
        return f"{where} could not be disabled: {self.problem}; disable it in Repzo by hand."


@dataclass(slots=True)
class ProbeReport:
    findings: list[Finding] = field(default_factory=list)
    clients: int | None = None
    """total_result of the account's clients, as the first request saw it."""
    record: ProbeRecord | None = None

    def finding(self, fact: str) -> Finding:
        return next(item for item in self.findings if item.fact == fact)


class RepzoUnavailable(SyncerError):
    """Repzo cannot be probed at all: unreachable, refusing the key, or not the Repzo API."""

    exit_code = ExitCode.UNREACHABLE

    def __init__(
        self,
        message: str,
        *,
        connector: str,
        url: str,
        status: int | None = None,
        remote_message: str | None = None,
    ) -> None:
        self.connector = connector
        self.url = url
        """Base URL without credentials."""
        self.status = status
        self.remote_message = remote_message
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class _Page:
    records: list[Record]
    total: int | None
    per_page: int | None
    next_page_url: str | None
    headers: httpx.Headers


async def probe(
    client: RepzoClient,
    *,
    write: bool = False,
    retry: RetryPolicy | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    pause: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> ProbeReport:
    """Probe every fact (and, with ``write``, the write facts). Raises :class:`RepzoUnavailable`
    when the first, cheapest request already fails: then no finding would mean anything."""
    return await Prober(client, retry=retry, now=now, pause=pause).run(write=write)


class Prober:
    def __init__(
        self,
        client: RepzoClient,
        *,
        retry: RetryPolicy | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        pause: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.client = client
        self.retry = retry or probe_retry(
            client.settings.max_retry_wait, client.settings.max_connect_wait
        )
        self._now = now
        self._pause = pause
        # The shared redactor's rules (a key too short to mask is left alone, as in logs).
        self._redactor = Redactor([client.settings.api_key.get_secret_value()])

    async def run(self, *, write: bool = False) -> ProbeReport:
        report = ProbeReport(clients=await self.preflight())
        steps: list[tuple[str, Callable[[], Awaitable[Finding]], JsonValue]] = [
            (PER_PAGE_CAP, self.per_page_cap, None),
            (FROM_INCLUSIVE, lambda: self.bound_inclusive("from"), UNKNOWN),
            (TO_INCLUSIVE, lambda: self.bound_inclusive("to"), UNKNOWN),
            (UNLISTED_PARAMETER, self.unlisted_parameter, UNKNOWN),
            (VARIANT_TO_UPDATED, self.variant_to_updated, UNKNOWN),
            (DEFAULT_ORDER, self.default_order, UNKNOWN),
            (CLOCK_SKEW, self.clock_skew, None),
        ]
        for fact, step, unknown in steps:
            report.findings.append(await self._settle(fact, step, unknown))
        if write:
            findings, report.record = await self.write_probe()
            report.findings.extend(findings)
        return report

    # -- the first request -------------------------------------------------------------------

    async def preflight(self) -> int | None:
        """One cheap listing that must work before anything else is asked: it tells a Repzo that
        cannot be reached or refuses the key (exit 3) from a fact that could not be settled."""
        url = self.client.http.base_url
        try:
            page = await self._list("client", {"per_page": 1}, retry=PREFLIGHT_RETRY)
        except RetryBudgetExhausted as error:
            raise self._unavailable(
                f"cannot reach Repzo at {url}: {error.message}", error
            ) from None
        except UnexpectedResponse as error:
            raise self._unavailable(
                f"{url} answered, but not like the Repzo API: {error.message} "
                f"({error.body_excerpt})",
                error,
            ) from None
        except FatalRemoteError as error:
            if error.status in (401, 403):
                said = f": {error.remote_message}" if error.remote_message else ""
                raise self._unavailable(
                    f"Repzo at {url} refused the API key ({error.status}){said}; check api_key "
                    f"of connector {self.client.http.system}",
                    error,
                ) from None
            raise self._unavailable(f"Repzo at {url}: {error.message}", error) from None
        except RemoteError as error:
            raise self._unavailable(
                f"Repzo at {url} could not be probed: {error.message}", error
            ) from None
        return page.total

    def _unavailable(self, message: str, error: RemoteError) -> RepzoUnavailable:
        return RepzoUnavailable(
            self._scrub(message),
            connector=self.client.http.system,
            url=self.client.http.base_url,
            status=error.status,
            remote_message=self._scrub(error.remote_message) if error.remote_message else None,
        )

    # -- read-only facts ---------------------------------------------------------------------

    async def per_page_cap(self) -> Finding:
        page = await self._list("client", {"per_page": ASKED_PER_PAGE, "page": 1})
        served = len(page.records)
        echoed = "no per_page" if page.per_page is None else f"per_page={page.per_page}"
        seen = (
            f"asked per_page={ASKED_PER_PAGE}: {served} records came back, the envelope says "
            f"{echoed}, total_result={page.total}, next_page_url "
            f"{'set' if page.next_page_url else 'null'}"
        )
        if served < ASKED_PER_PAGE and page.next_page_url is not None:
            return Finding(PER_PAGE_CAP, served, f"{seen}: Repzo serves {served} per page")
        if page.per_page is not None and page.per_page < ASKED_PER_PAGE:
            return Finding(PER_PAGE_CAP, page.per_page, f"{seen}: the envelope names the cap")
        if served > ASKED_PER_PAGE:
            return Finding(PER_PAGE_CAP, None, f"{seen}: more than asked, per_page is not obeyed")
        if served == ASKED_PER_PAGE:
            return Finding(
                PER_PAGE_CAP,
                None,
                f"{seen}: no cap at or below {ASKED_PER_PAGE}; a larger one is not ruled out",
                at_least=ASKED_PER_PAGE,
            )
        if served == 0:
            return Finding(PER_PAGE_CAP, None, f"{seen}: the account has no clients to tell")
        # The whole collection fitted in one page: an echoed per_page is no proof that a page
        # that large would really be served.
        return Finding(
            PER_PAGE_CAP,
            None,
            f"{seen}: the account has only {served} clients, so this is a lower bound",
            at_least=served,
        )

    async def bound_inclusive(self, side: Literal["from", "to"]) -> Finding:
        """Whether ``from_updatedAt`` (``to_updatedAt``) keeps records at exactly the bound. The
        bound is the newest (oldest) client's updatedAt, so the listing holds few records, and
        it is sorted toward the bound, so records at it would come first."""
        fact = FROM_INCLUSIVE if side == "from" else TO_INCLUSIVE
        edge = "dsc" if side == "from" else "asc"
        toward = "asc" if side == "from" else "dsc"
        sample = await self._sample({"sort": "updatedAt", "sortPageOrder": edge})
        if sample is None:
            return Finding(fact, UNKNOWN, "the account has no clients to compare with")
        record_id, bound = sample
        params: dict[str, QueryValue] = {
            f"{side}_updatedAt": bound,
            "sort": "updatedAt",
            "sortPageOrder": toward,
            "per_page": SAMPLE,
        }
        page = await self._list("client", params)
        asked = (
            f"client {record_id} has updatedAt {bound} ({_iso(bound)}); {side}_updatedAt={bound}"
        )
        stamps = [(_id(record), _ms(record.get("updatedAt"))) for record in page.records]
        beyond = [
            (rid, ms)
            for rid, ms in stamps
            if ms is not None and (ms < bound if side == "from" else ms > bound)
        ]
        if beyond:
            rid, ms = beyond[0]
            return Finding(
                fact,
                UNKNOWN,
                f"{asked} returned records beyond the bound (client {rid} at {ms}): the filter "
                f"was not applied",
            )
        at_bound = [rid for rid, ms in stamps if ms == bound]
        if at_bound:
            return Finding(
                fact,
                "yes",
                f"{asked} returned records at exactly {bound} ({len(at_bound)} on the first "
                f"page, e.g. client {at_bound[0]})",
            )
        if page.next_page_url is None:
            return Finding(
                fact,
                "no",
                f"{asked} returned {len(stamps)} record(s) (total_result={page.total}), none at "
                f"{bound}",
            )
        known = [ms for _rid, ms in stamps if ms is not None]
        ordered = known == sorted(known, reverse=side == "to")
        if known and ordered:
            return Finding(
                fact,
                "no",
                f"{asked} sorted toward the bound starts at {known[0]} ({_iso(known[0])}): "
                f"nothing at {bound}",
            )
        return Finding(
            fact,
            UNKNOWN,
            f"{asked}: no record at the bound on the first page of {page.total}, and the page "
            f"is not sorted by updatedAt, so the rest may hold one",
        )

    async def unlisted_parameter(self) -> Finding:
        return await self._extra_parameter(
            UNLISTED_PARAMETER, "client", PROBE_PARAM, 1, "a parameter the SDK does not list"
        )

    async def variant_to_updated(self) -> Finding:
        """The dangerous case: the SDK's variant Find has from_updatedAt but no to_updatedAt. A
        Repzo that ignores it gives a scan's upper bound no effect; one that filters honours
        it; one that rejects it fails the read."""
        return await self._extra_parameter(
            VARIANT_TO_UPDATED,
            "variant",
            "to_updatedAt",
            EARLIEST_MS,
            "to_updatedAt, which the SDK's variant Find does not list",
        )

    async def default_order(self) -> Finding:
        page = await self._list("client", {"per_page": SAMPLE})
        ids = [_id(record) for record in page.records]
        if len(ids) < 2:
            return Finding(
                DEFAULT_ORDER, UNKNOWN, f"{len(ids)} client(s): too few to show an order"
            )
        seen = (
            f"the first {len(ids)} _ids of a listing without sortBy run from {ids[0]} to {ids[-1]}"
        )
        pairs = list(pairwise(ids))
        if all(a < b for a, b in pairs):
            return Finding(DEFAULT_ORDER, "ascending", f"{seen}, each above the one before")
        if all(a > b for a, b in pairs):
            return Finding(DEFAULT_ORDER, "descending", f"{seen}, each below the one before")
        return Finding(DEFAULT_ORDER, "neither", f"{seen}, in no _id order")

    async def clock_skew(self) -> Finding:
        page = await self._list("client", {"per_page": 1})
        local = self._now()
        header = page.headers.get("date")
        if not header:
            return Finding(CLOCK_SKEW, None, "no Date header: Repzo's clock cannot be read")
        try:
            server = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return Finding(CLOCK_SKEW, None, f"the Date header {header!r} is not an HTTP date")
        if server.tzinfo is None:
            server = server.replace(tzinfo=UTC)
        # The header drops the fraction of its second: its middle is the better guess.
        skew = round((server - local).total_seconds() + 0.5, 1)
        if abs(skew) < 1:
            verdict = "the clocks agree to within the header's 1 s resolution"
        else:
            way = "ahead of" if skew > 0 else "behind"
            verdict = f"Repzo is {abs(skew):.1f} s {way} it (the header has 1 s resolution)"
        return Finding(
            CLOCK_SKEW,
            skew,
            f"Date: {header}; this machine's clock read {local.isoformat(timespec='milliseconds')}"
            f": {verdict}",
        )

    # -- the write probe ---------------------------------------------------------------------

    async def write_probe(self) -> tuple[list[Finding], ProbeRecord]:
        stamp = self._now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        record = ProbeRecord(name=f"syncer probe {stamp}")
        resource = self.client.resource("client")
        try:
            record.record_id = await self._create(resource, record)
        except RemoteError as error:
            why = f"the probe client could not be created: {self._scrub(error.message)}"
            return [
                Finding(META_BUMPS_UPDATED, UNKNOWN, why),
                Finding(DELETE_DISABLES, UNKNOWN, why),
            ], record
        record_id = record.record_id
        try:
            meta = await self._settle(
                META_BUMPS_UPDATED, lambda: self.meta_bumps_updated(resource, record_id, stamp)
            )
        finally:
            disabled = await self._settle(DELETE_DISABLES, lambda: self.disable(resource, record))
        if not record.disabled and record.problem is None:
            record.problem = disabled.evidence
        return [meta, disabled], record

    async def _create(self, resource: Resource, record: ProbeRecord) -> str:
        try:
            created = await self.client.create(resource, {"name": record.name}, retry=self.retry)
        except UncertainWrite as error:
            # The answer was lost, not necessarily the client: find it by its unique name.
            record.problem = (
                f"the answer to its create was lost; look for a client named {record.name!r} "
                f"and disable it"
            )
            try:
                found = await self.client.find(resource, {"name": record.name}, limit=2)
            except ValueError:  # the client will not send a filter it thinks Repzo lacks
                raise error from None
            if len(found) != 1:
                raise
            record.problem = None
            return _id(found[0])
        return _id(created)

    async def meta_bumps_updated(self, resource: Resource, record_id: str, stamp: str) -> Finding:
        before = await self._get(resource, record_id)
        # updatedAt has millisecond resolution: a bump within the create's millisecond would
        # not show.
        await self._pause(0.05)
        await self._post_meta(resource, record_id, stamp)
        after = await self._get(resource, record_id)
        meta = after.get("integration_meta")
        if not (isinstance(meta, dict) and meta.get(PROBE_PARAM) == stamp):
            return Finding(
                META_BUMPS_UPDATED,
                UNKNOWN,
                f"POST /update-integration-meta?_id={record_id}&type={_meta_type(resource)} "
                f"answered, but the "
                f"client does not show integration_meta.{PROBE_PARAM}={stamp!r}",
            )
        old, new = before.get("updatedAt"), after.get("updatedAt")
        seen = (
            f"client {record_id}: updatedAt {old} before POST /update-integration-meta "
            f"(integration_meta.{PROBE_PARAM}={stamp!r}), {new} after"
        )
        old_ms, new_ms = _ms(old), _ms(new)
        if old_ms is None or new_ms is None:
            return Finding(META_BUMPS_UPDATED, UNKNOWN, f"{seen}: not both are times")
        if new_ms > old_ms:
            return Finding(META_BUMPS_UPDATED, "yes", seen)
        if new_ms == old_ms:
            return Finding(META_BUMPS_UPDATED, "no", seen)
        return Finding(META_BUMPS_UPDATED, UNKNOWN, f"{seen}: it went backwards")

    async def _post_meta(self, resource: Resource, record_id: str, stamp: str) -> None:
        """``POST /update-integration-meta`` itself, never the client's fallback to a PUT: the
        PUT certainly moves updatedAt, and that is not the question."""
        meta = self.client.resource("update-integration-meta")
        await self.client.http.request(
            "POST",
            self.client.path(meta, "create"),
            operation="write",
            params={"_id": record_id, "type": _meta_type(resource)},
            json_body=[{"key": PROBE_PARAM, "value": stamp}],
            idempotent=True,
            resource=resource.name,
            record_id=record_id,
            retry=self.retry,
        )

    async def disable(self, resource: Resource, record: ProbeRecord) -> Finding:
        assert record.record_id is not None
        try:
            await self.client.delete(resource, record.record_id)
        except RemoteError as error:
            record.problem = self._scrub(error.message)
            raise
        after = await self.client.get(resource, record.record_id)
        seen = f"DELETE /client/{record.record_id}, then GET"
        if after is None:
            # Gone rather than disabled: nothing is left behind either.
            record.disabled = record.gone = True
            return Finding(DELETE_DISABLES, "no", f"{seen}: 404, the record is gone")
        if after.get("disabled") is True:
            record.disabled = True
            return Finding(DELETE_DISABLES, "yes", f"{seen}: disabled: true, the record is kept")
        record.problem = f"after DELETE the client still says disabled: {after.get('disabled')!r}"
        return Finding(
            DELETE_DISABLES, "no", f"{seen}: disabled: {after.get('disabled')!r}, still enabled"
        )

    # -- helpers -----------------------------------------------------------------------------

    async def _settle(
        self, fact: str, step: Callable[[], Awaitable[Finding]], unknown: JsonValue = UNKNOWN
    ) -> Finding:
        try:
            finding = await step()
        except RemoteError as error:
            status = f" ({error.status})" if error.status is not None else ""
            return Finding(
                fact, unknown, f"could not be probed{status}: {self._scrub(error.message)}"
            )
        return Finding(finding.fact, finding.value, self._scrub(finding.evidence), finding.at_least)

    async def _extra_parameter(
        self, fact: str, resource: str, name: str, value: QueryValue, what: str
    ) -> Finding:
        plain = await self._list(resource, {"per_page": 1})
        asked = f"GET /{resource}?{name}={value} ({what})"
        try:
            extra = await self._list(resource, {"per_page": 1, name: value})
        except RemoteError as error:
            if error.status is not None and 400 <= error.status < 500:
                said = error.remote_message or error.message
                return Finding(fact, "rejected", f"{asked} answered {error.status}: {said!r}")
            raise
        totals = f"total_result {extra.total} with it, {plain.total} without"
        if extra.total is None or plain.total is None:
            return Finding(fact, UNKNOWN, f"{asked}: no total_result to compare ({totals})")
        if extra.total != plain.total:
            return Finding(fact, "filter", f"{asked}: {totals}, so it filters")
        if plain.total == 0:
            return Finding(
                fact,
                UNKNOWN,
                f"{asked}: {totals}; with no {resource} records, ignoring and "
                f"filtering look the same",
            )
        return Finding(fact, "ignored", f"{asked}: {totals}, so it is ignored")

    async def _sample(self, order: Mapping[str, QueryValue]) -> tuple[str, int] | None:
        """(_id, updatedAt ms) of the first client in this order, or None without clients."""
        page = await self._list("client", {**order, "per_page": 1})
        for record in page.records:
            stamp = _ms(record.get("updatedAt"))
            if stamp is None:
                raise UnexpectedResponse(
                    "a client has no readable updatedAt", body_excerpt=repr(record)[:200]
                )
            return _id(record), stamp
        return None

    async def _list(
        self, resource: str, params: Mapping[str, QueryValue], *, retry: RetryPolicy | None = None
    ) -> _Page:
        target = self.client.resource(resource)
        response = await self.client.http.request(
            "GET",
            self.client.path(target, "list"),
            operation="list",
            params=params,
            resource=target.name,
            retry=retry or self.retry,
        )
        records: list[Record] = extract_records("paged")(response.body)
        body: dict[str, Any] = response.body
        next_url = body.get("next_page_url")
        return _Page(
            records=records,
            total=_int(body.get("total_result")),
            per_page=_int(body.get("per_page")),
            next_page_url=next_url if isinstance(next_url, str) and next_url else None,
            headers=response.headers,
        )

    async def _get(self, resource: Resource, record_id: str) -> Record:
        found = await self.client.get(resource, record_id)
        if found is None:
            raise UnexpectedResponse(
                f"client {record_id} is missing right after it was created",
                body_excerpt="404",
            )
        return found

    def _scrub(self, text: str) -> str:
        """No finding may quote the key, even where Repzo's own message echoes it."""
        return self._redactor.known(text)


def _meta_type(resource: Resource) -> str:
    """The ``type`` update-integration-meta takes for clients: the registry's where it names
    one, else the SDK's collection name."""
    return resource.meta_type or "clients"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _id(record: Record) -> str:
    value = record.get("_id")
    if not isinstance(value, str):
        raise UnexpectedResponse("a record has no _id", body_excerpt=repr(record)[:200])
    return value


def _ms(value: Any) -> int | None:
    """updatedAt as ms since the epoch: Repzo answers ISO strings, the filters take numbers."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    moment = parse_instant(value)
    return None if moment is None else round(moment.timestamp() * 1000)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")
