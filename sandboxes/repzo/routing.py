"""Which registry operation a method and path reach.

Routes come from the registry alone: each resource's operations and sub-actions, under the
spec's path and, where the SDK calls another one (``/pricelists`` for ``/pricelist``), under that
path too. A path with more literal segments wins over a template (``/product/sub-categories`` is
its own collection, not the product with id "sub-categories").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from connectors.repzo.registry import Operation, Registry, Resource
from sandboxes.repzo.protocol import ApiError

RouteKind = Literal["list", "get", "create", "update", "delete", "action"]
_STANDARD: dict[str, RouteKind] = {
    "list": "list",
    "get": "get",
    "create": "create",
    "update": "update",
    "delete": "delete",
}
_PARAM = re.compile(r"\{[^/{}]+\}")


@dataclass(frozen=True)
class Route:
    resource: Resource
    operation: Operation
    kind: RouteKind
    template: str
    pattern: re.Pattern[str]
    literal_segments: int


@dataclass(frozen=True)
class RouteMatch:
    route: Route
    doc_id: str | None
    """The ``{id}`` of the path, if the template has one."""

    @property
    def resource(self) -> Resource:
        return self.route.resource


class Router:
    def __init__(self, registry: Registry) -> None:
        routes: list[Route] = []
        for resource in registry.resources.values():
            for operation in resource.all_operations():
                for template in _templates(resource, operation):
                    routes.append(_route(resource, operation, template))
        routes.sort(key=lambda route: -route.literal_segments)
        self._by_head: dict[str, list[Route]] = {}
        for route in routes:
            self._by_head.setdefault(_head(route.template), []).append(route)

    def resolve(self, method: str, path: str) -> RouteMatch:
        """The operation for ``method path``; 404 for an unknown path, 405 for a known path
        the resource does not serve with that method."""
        path_known = False
        for route in self._by_head.get(_head(path), ()):
            found = route.pattern.fullmatch(path)
            if found is None:
                continue
            path_known = True
            if route.operation.method == method:
                return RouteMatch(route, found.group("id") if "id" in found.groupdict() else None)
        if path_known:
            raise ApiError(405, f"Method {method} is not supported by {path}")
        raise ApiError(404, f"Page not found: {path}")


def _head(path: str) -> str:
    return path.strip("/").split("/", 1)[0]


def _templates(resource: Resource, operation: Operation) -> list[str]:
    templates = [operation.path]
    if resource.sdk_path and operation.path.startswith(resource.path):
        templates.append(resource.sdk_path + operation.path[len(resource.path) :])
    return templates


def _route(resource: Resource, operation: Operation, template: str) -> Route:
    parts: list[str] = []
    literals = 0
    for segment in template.strip("/").split("/"):
        if not _PARAM.fullmatch(segment):
            parts.append(re.escape(segment))
            literals += 1
        elif "(?P<id>" in "".join(parts):
            parts.append("[^/]+")
        else:
            # The first parameter is the document's id, whatever the spec calls it.
            parts.append("(?P<id>[^/]+)")
    kind = _STANDARD.get(operation.name, "action")
    pattern = re.compile("/" + "/".join(parts))
    return Route(resource, operation, kind, template, pattern, literals)
