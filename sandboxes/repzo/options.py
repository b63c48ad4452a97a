"""How a sandbox behaves where Repzo's behaviour is unknown or a test wants to vary it.

A sandbox is strict by default: it refuses what the official SDK's types do not allow (see
``strict``), answers lists newest first unless asked for an order, and serves at most 100
records a page. ``lenient=True`` brings back the old, forgiving behaviour for experiments. The
options that differ by mode are ``None`` until given; the ``resolved_*`` properties say what
applies, so ``lenient=True`` changes only what was not set explicitly.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from sandboxes.repzo.query import BoundRules

DEFAULT_API_KEY = "sandbox-api-key"
# What 16 of Repzo's spec files give as the largest per_page.
STRICT_MAX_PER_PAGE = 100
# Integrations ask for 50000 to read a collection in one page; a lenient sandbox serves it.
LENIENT_MAX_PER_PAGE = 50_000

UnknownParams = Literal["reject", "ignore", "filter"]
UnknownFields = Literal["reject", "drop", "keep"]
ImplicitOrder = Literal["newest", "id", "updated"]


class SandboxOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    api_key: SecretStr = SecretStr(DEFAULT_API_KEY)
    namespace: tuple[str, ...] = ("demo",)
    """``company_namespace`` stamped on documents created without one."""
    lenient: bool = False
    """Today's forgiving sandbox instead of the strict one, for experiments: unlisted query
    parameters become filters, lists come in ``_id`` order, 50,000 records a page, unknown body
    fields are kept, ``update-integration-meta`` guesses its ``type``, logs need no ``app_id``.
    Whatever is given explicitly below still wins."""
    unknown_params: UnknownParams | None = None
    """A list query parameter the resource's ``list_params`` does not name: answered 400
    (reject), dropped (ignore), or an equality filter, a range for ``from_``/``to_`` (filter).
    None: reject, or filter when lenient."""
    unknown_fields: UnknownFields | None = None
    """A create or update body field the resource's ``create_fields``/``update_fields`` does not
    name: answered 400 (reject), dropped as a strict Mongoose schema would (drop), or stored
    (keep). None: ``strict_fields`` if given, else reject, or keep when lenient."""
    strict_fields: bool | None = None
    """The older spelling of ``unknown_fields``: True is drop, False is keep."""
    implicit_order: ImplicitOrder | None = None
    """The order of a list that asks for none (no ``sortBy``, no ``sort``): newest first
    (``_id`` descending), ``_id`` ascending, or ``updated``: least recently updated first, an
    order in which an edit moves a document to the end while a client pages. None: newest, or
    id when lenient."""
    updated_bounds: Literal["inclusive", "exclusive"] = "inclusive"
    """from_updatedAt/to_updatedAt as >=/<= or as >/<. Repzo does not document which."""
    from_id_bound: Literal["exclusive", "inclusive"] = "exclusive"
    """from__id as > (what a keyset reader needs) or >=."""
    default_per_page: int = Field(25, ge=1)
    """The SDK README's page size; Repzo's own default is undocumented."""
    max_per_page: int | None = Field(None, ge=1)
    """A larger per_page (or limit) is served at this size, and the reply says so. None: 100,
    or 50,000 when lenient."""
    default_limit: int = Field(20, ge=1)
    """limit of the limit/offset lists when none is given."""

    @field_validator("namespace")
    @classmethod
    def _namespace_not_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or any(not part for part in value):
            raise ValueError("namespace needs at least one non-empty part")
        return value

    @property
    def resolved_unknown_params(self) -> UnknownParams:
        if self.unknown_params is not None:
            return self.unknown_params
        return "filter" if self.lenient else "reject"

    @property
    def resolved_unknown_fields(self) -> UnknownFields:
        if self.unknown_fields is not None:
            return self.unknown_fields
        if self.strict_fields is not None:
            return "drop" if self.strict_fields else "keep"
        return "keep" if self.lenient else "reject"

    @property
    def resolved_max_per_page(self) -> int:
        if self.max_per_page is not None:
            return self.max_per_page
        return LENIENT_MAX_PER_PAGE if self.lenient else STRICT_MAX_PER_PAGE

    @property
    def resolved_implicit_order(self) -> ImplicitOrder:
        if self.implicit_order is not None:
            return self.implicit_order
        return "id" if self.lenient else "newest"

    @property
    def exact_meta_types(self) -> bool:
        """update-integration-meta takes only a resource's ``meta_type`` (strict), or guesses
        the resource from a singular or plural name."""
        return not self.lenient

    @property
    def sdk_required(self) -> bool:
        """Creates need every field the SDK's create body requires, the logs' ``app_id``
        included (strict), or only the registry's ``required_on_create``."""
        return not self.lenient

    def bound_rules(self) -> BoundRules:
        return BoundRules(
            updated_exclusive=self.updated_bounds == "exclusive",
            from_id_inclusive=self.from_id_bound == "inclusive",
        )

    def public(self) -> dict[str, object]:
        """Everything but the key, for the admin API, and what applies in the current mode."""
        return {
            **self.model_dump(mode="json", exclude={"api_key"}),
            "effective": {
                "unknown_params": self.resolved_unknown_params,
                "unknown_fields": self.resolved_unknown_fields,
                "max_per_page": self.resolved_max_per_page,
                "implicit_order": self.resolved_implicit_order,
                "exact_meta_types": self.exact_meta_types,
                "sdk_required": self.sdk_required,
            },
        }
