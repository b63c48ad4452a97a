"""The control API under ``/__erp/`` (a prefix no collection can take): same Basic auth as the
API, never counted in the statistics. Each endpoint calls the ErpCore method the Python API
exposes.

    GET  stats               POST stats/reset
    POST mutate              {"customers": 10, "items": 5, "seed": 7?}
                             -> {"changed": {"customers": [...]}, "updated_at": "..."}
    POST seed                {"customers": 300, "items": 120, ..., "random_seed": 0}
    POST reset               empties everything, id sequences included
    GET  clock               POST clock {"freeze_at": ISO} | {"freeze": true} |
                                        {"unfreeze": true} | {"offset_seconds": n} |
                                        {"advance_seconds": n}
    GET  options             POST options {"dedupe_documents": false}
    GET  faults              POST faults {"hold": "invoices"} | {"drop": "invoices", "count": 1}
                             DELETE faults   sends held answers, clears holding and dropping
    GET  faults/plan         POST faults/plan {"rate_429": 0.3, "retry_after": 1, ...}
                             (FaultSettings: random faults of API requests, seeded)
    POST faults/script       {"kind": "429", "count": 2, "path": "customers"} (ScriptedFault)
    DELETE faults/plan       no more random or scripted faults
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sandboxes.erp.errors import bad_request, not_found
from sandboxes.erp.records import json_object
from sandboxes.kit.faults import ScriptedFault
from sandboxes.kit.replies import Reply, validation_problems

if TYPE_CHECKING:
    from sandboxes.erp.core import ErpCore

ADMIN_PREFIX = "/__erp"


class _Clock(BaseModel):
    model_config = ConfigDict(extra="forbid")

    freeze_at: str | None = None
    freeze: bool = False
    unfreeze: bool = False
    offset_seconds: int | None = None
    advance_seconds: int | None = None


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dedupe_documents: bool | None = None


class _Faults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hold: str | None = None
    drop: str | None = None
    count: int = Field(1, ge=1)


def handle_admin(core: ErpCore, method: str, path: tuple[str, ...], body: bytes) -> Reply:
    endpoint = (method, "/".join(path))
    try:
        return _dispatch(core, endpoint, body)
    except ValidationError as exc:
        raise bad_request(f"Invalid admin request: {validation_problems(exc)}.") from None


def _dispatch(core: ErpCore, endpoint: tuple[str, str], body: bytes) -> Reply:
    match endpoint:
        case ("GET", "stats"):
            return Reply(200, core.stats().to_json())
        case ("POST", "stats/reset"):
            core.reset_stats()
            return Reply(200, {"reset": "stats"})
        case ("POST", "mutate"):
            counts = _object(body)
            seed = counts.pop("seed", None)
            if not all(_count(value) for value in counts.values()) or not (
                seed is None or _count(seed)
            ):
                raise bad_request("Mutate takes {entity: count} and an optional integer seed.")
            result = core.apply_mutation(counts, seed=seed)
            return Reply(200, {"changed": result.changed, "updated_at": result.updated_at})
        case ("POST", "seed"):
            sizes = _object(body)
            random_seed = sizes.pop("random_seed", 0)
            if not _count(random_seed):
                raise bad_request("random_seed must be a whole number.")
            return Reply(201, {"created": core.seed(random_seed=random_seed, **sizes)})
        case ("POST", "reset"):
            core.reset()
            return Reply(200, {"reset": "everything"})
        case ("GET", "clock"):
            return Reply(200, _clock_state(core))
        case ("POST", "clock"):
            _set_clock(core, _Clock.model_validate(_object(body)))
            return Reply(200, _clock_state(core))
        case ("GET", "options"):
            return Reply(200, _options(core))
        case ("POST", "options"):
            options = _Options.model_validate(_object(body))
            if options.dedupe_documents is not None:
                core.dedupe_documents = options.dedupe_documents
            return Reply(200, _options(core))
        case ("GET", "faults"):
            return Reply(200, _faults(core))
        case ("POST", "faults"):
            _set_faults(core, _Faults.model_validate(_object(body)))
            return Reply(200, _faults(core))
        case ("DELETE", "faults"):
            core.release_answers()
            return Reply(200, _faults(core))
        case ("GET", "faults/plan"):
            return Reply(200, _plan(core))
        case ("POST", "faults/plan"):
            core.set_faults(**_object(body))
            return Reply(200, _plan(core))
        case ("POST", "faults/script"):
            core.request_faults.add_script(ScriptedFault.model_validate(_object(body)))
            return Reply(200, _plan(core))
        case ("DELETE", "faults/plan"):
            core.clear_faults()
            return Reply(200, _plan(core))
    raise not_found(f"There is no admin endpoint {endpoint[0]} {ADMIN_PREFIX}/{endpoint[1]}.")


def _object(body: bytes) -> dict[str, Any]:
    return json_object(body) if body.strip() else {}


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _set_clock(core: ErpCore, clock: _Clock) -> None:
    if clock.offset_seconds is not None:
        core.clock.set_offset(clock.offset_seconds * 1000)
    if clock.freeze_at is not None:
        try:
            core.clock.freeze(core.times.parse(clock.freeze_at) * 1000)
        except ValueError as exc:
            raise bad_request(f"freeze_at is invalid: {exc}.") from None
    elif clock.freeze:
        core.clock.freeze()
    if clock.unfreeze:
        core.clock.unfreeze()
    if clock.advance_seconds is not None:
        core.clock.advance(clock.advance_seconds * 1000)


def _options(core: ErpCore) -> dict[str, Any]:
    return {"dedupe_documents": core.dedupe_documents}


def _set_faults(core: ErpCore, faults: _Faults) -> None:
    try:
        if faults.hold is not None:
            core.hold_answers(faults.hold)
        if faults.drop is not None:
            core.drop_answers(faults.drop, faults.count)
    except KeyError as exc:
        raise bad_request(f"{exc.args[0]}.") from None


def _faults(core: ErpCore) -> dict[str, Any]:
    state = core.answer_faults()
    return {"holding": list(state.holding), "held": state.held, "dropping": state.dropping}


def _plan(core: ErpCore) -> dict[str, Any]:
    return {
        "plan": core.fault_plan().model_dump(mode="json"),
        "script": [
            {**fault.model_dump(mode="json"), "left": left}
            for fault, left in core.request_faults.scripted()
        ],
    }


def _clock_state(core: ErpCore) -> dict[str, Any]:
    state = core.clock.state()
    return {
        "now": core.now(),
        "offset_seconds": state.offset_ms // 1000,
        "frozen": state.frozen,
        "utc_offset": core.times.utc_offset,
    }
