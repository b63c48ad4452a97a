"""A fake Repzo API written once (respx), shared by the unit tests of the client and connector.

Tests declare the routes they use (``fake.collection(...)``, ``fake.script(...)``); at teardown
every declared route must have been called, so a test cannot pass by never reaching the code it
claims to exercise.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import respx
from pydantic import SecretStr

from connectors.repzo import RepzoSettings

BASE = "https://repzo.test"
API_KEY = "rk-unit-7f3a91"


def oid(n: int) -> str:
    return f"{n:024x}"


class RecordingSleep:
    """Stands in for asyncio.sleep: records what the retry loop asked to wait, waits not."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class FakeRepzo:
    """Routes that answer the way Repzo does: paged lists with keyset or page numbers,
    limit/offset lists, and scripted failures."""

    def __init__(self, router: respx.MockRouter) -> None:
        self.router = router
        self.requests: list[httpx.Request] = []

    def collection(
        self,
        path: str,
        records: list[dict[str, Any]],
        *,
        style: str = "paged",
        inclusive_from_id: bool = False,
    ) -> respx.Route:
        """Serve ``records`` (sorted by _id) at ``GET path``."""

        def answer(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            query = request.url.params
            rows = sorted(records, key=lambda r: r["_id"])
            for key, value in query.items():
                if key in ("per_page", "page", "sortBy", "limit", "offset", "from__id", "to__id"):
                    continue
                if key in ("from_updatedAt", "to_updatedAt"):
                    continue
                wanted = _query_value(value)
                wanted = wanted if isinstance(wanted, list) else [wanted]
                rows = [r for r in rows if _dig(r, key) in wanted]
            if "from__id" in query:
                after = query["from__id"]
                rows = (
                    [r for r in rows if r["_id"] >= after]
                    if inclusive_from_id
                    else [r for r in rows if r["_id"] > after]
                )
            if style == "limit_offset_total":
                limit, offset = int(query.get("limit", 50)), int(query.get("offset", 0))
                return httpx.Response(
                    200,
                    json={
                        "success": True,
                        "data": rows[offset : offset + limit],
                        "total": len(rows),
                    },
                )
            per_page = int(query.get("per_page", 25))
            page = int(query.get("page", 1))
            chunk = rows[(page - 1) * per_page : page * per_page]
            last = page * per_page >= len(rows)
            return httpx.Response(
                200,
                json={
                    "total_result": len(rows),
                    "current_count": len(chunk),
                    "total_pages": max(1, -(-len(rows) // per_page)),
                    "current_page": page,
                    "per_page": per_page,
                    "next_page_url": None if last else f"{BASE}{path}?page={page + 1}",
                    "data": chunk,
                },
                headers={"date": "Sun, 29 Nov 2026 21:00:00 GMT"},
            )

        return self.router.get(path).mock(side_effect=answer)

    def script(self, method: str, path: str, *answers: Any) -> respx.Route:
        """Answer the calls to ``method path`` in order: responses, or exceptions to raise."""
        steps = list(answers)

        def answer(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            step = steps.pop(0) if len(steps) > 1 else steps[0]
            if isinstance(step, BaseException) or (
                isinstance(step, type) and issubclass(step, BaseException)
            ):
                raise step
            return step  # type: ignore[no-any-return]

        return self.router.route(method=method, path=path).mock(side_effect=answer)


def _query_value(value: str) -> Any:
    """Query values arrive as the SDK sends them: JSON for arrays and booleans, else text."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def _dig(record: dict[str, Any], dotted: str) -> Any:
    value: Any = record
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def settings(**overrides: Any) -> RepzoSettings:
    values: dict[str, Any] = {"api_key": SecretStr(API_KEY), "base_url": BASE, "page_size": 3}
    values.update(overrides)
    return RepzoSettings.model_validate(values)
