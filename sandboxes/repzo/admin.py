"""The control API under ``/__sandbox/``: JSON in and out, no api-key, never faulted, never
counted. Each endpoint calls the same SandboxCore method the Python API exposes.

    GET  stats                 POST stats/reset
    POST seed                  {"resource": "client", "count": 1000, "updated_at": ms?,
                                "docs": [...]?, "return_ids": false}
    GET  clock                 POST clock {"freeze_ms": ms} | {"freeze": true} |
                                          {"unfreeze": true} | {"offset_ms": n} | {"advance_ms": n}
    GET  faults                POST faults {FaultSettings}      DELETE faults
    POST faults/script {ScriptedFault}     POST faults/mutate {PagingMutation}
    GET  options               POST options {"lenient": true, "max_per_page": 500, ...}
    POST touch {"resource": "client", "ids": [...]}
    POST reset
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sandboxes.kit.faults import ScriptedFault
from sandboxes.kit.replies import validation_problems
from sandboxes.repzo.core import SandboxCore
from sandboxes.repzo.mutations import PagingMutation
from sandboxes.repzo.protocol import ApiError, Reply, Request

ADMIN_PREFIX = "/__sandbox"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Seed(_Body):
    resource: str
    count: int = Field(0, ge=0)
    updated_at: int | None = None
    docs: list[dict[str, Any]] = []
    return_ids: bool = False


class _Clock(_Body):
    freeze_ms: int | None = None
    freeze: bool = False
    unfreeze: bool = False
    offset_ms: int | None = None
    advance_ms: int | None = None


class _Touch(_Body):
    resource: str
    ids: list[str]


def is_admin(path: str) -> bool:
    return path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")


def handle_admin(core: SandboxCore, request: Request) -> Reply:
    endpoint = (request.method, request.path.removeprefix(ADMIN_PREFIX).strip("/"))
    try:
        return _dispatch(core, endpoint, request)
    except ValidationError as exc:
        raise ApiError(400, validation_problems(exc)) from None


def _dispatch(core: SandboxCore, endpoint: tuple[str, str], request: Request) -> Reply:
    match endpoint:
        case ("GET", "stats"):
            return Reply(200, core.stats().to_json())
        case ("POST", "stats/reset"):
            core.reset_stats()
            return Reply(200, {"reset": "stats"})
        case ("POST", "seed"):
            return Reply(201, _seed(core, _Seed.model_validate(_body(request))))
        case ("GET", "clock"):
            return Reply(200, core.clock.state().__dict__)
        case ("POST", "clock"):
            _set_clock(core, _Clock.model_validate(_body(request)))
            return Reply(200, core.clock.state().__dict__)
        case ("GET", "faults"):
            return Reply(200, _faults_json(core))
        case ("POST", "faults"):
            core.set_faults(**_body(request))
            return Reply(200, _faults_json(core))
        case ("DELETE", "faults"):
            core.clear_faults()
            return Reply(200, _faults_json(core))
        case ("POST", "faults/script"):
            core.faults.add_script(ScriptedFault.model_validate(_body(request)))
            return Reply(200, _faults_json(core))
        case ("POST", "faults/mutate"):
            core.arm_mutation(PagingMutation.model_validate(_body(request)))
            return Reply(200, _faults_json(core))
        case ("GET", "options"):
            return Reply(200, core.options.public())
        case ("POST", "options"):
            changes = _body(request)
            # GET answers with what applies as well; posting that back must not be refused.
            changes.pop("effective", None)
            if "api_key" in changes:
                raise ApiError(400, "The api key is set when the sandbox starts")
            return Reply(200, core.set_options(**changes).public())
        case ("POST", "touch"):
            touch = _Touch.model_validate(_body(request))
            return Reply(200, {"touched": core.touch(touch.resource, touch.ids)})
        case ("POST", "reset"):
            core.reset()
            return Reply(200, {"reset": "everything"})
    raise ApiError(404, f"No sandbox admin endpoint {endpoint[0]} {request.path}")


def _body(request: Request) -> dict[str, Any]:
    if not request.body.strip():
        return {}
    body = request.json()
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be a JSON object")
    return body


def _seed(core: SandboxCore, seed: _Seed) -> dict[str, Any]:
    ids = core.seed(seed.resource, seed.count, updated_at=seed.updated_at) if seed.count else []
    if seed.docs:
        ids += core.insert(seed.resource, seed.docs)
    result: dict[str, Any] = {
        "resource": seed.resource,
        "inserted": len(ids),
        "first_id": ids[0] if ids else None,
        "last_id": ids[-1] if ids else None,
    }
    if seed.return_ids:
        result["ids"] = ids
    return result


def _set_clock(core: SandboxCore, clock: _Clock) -> None:
    if clock.offset_ms is not None:
        core.clock.set_offset(clock.offset_ms)
    if clock.freeze_ms is not None or clock.freeze:
        core.clock.freeze(clock.freeze_ms)
    if clock.unfreeze:
        core.clock.unfreeze()
    if clock.advance_ms is not None:
        core.clock.advance(clock.advance_ms)


def _faults_json(core: SandboxCore) -> dict[str, Any]:
    return {
        "plan": core.faults.plan().model_dump(mode="json"),
        "script": [
            {**fault.model_dump(mode="json"), "left": left}
            for fault, left in core.faults.scripted()
        ],
        "mutations": [spec.model_dump(mode="json") for spec in core.mutator.pending()],
    }
