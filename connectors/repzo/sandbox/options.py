"""How a sandbox behaves where Repzo's behaviour is unknown or a test wants to vary it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from connectors.repzo.sandbox.query import BoundRules

DEFAULT_API_KEY = "sandbox-api-key"


class SandboxOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    api_key: SecretStr = SecretStr(DEFAULT_API_KEY)
    namespace: tuple[str, ...] = ("demo",)
    """``company_namespace`` stamped on documents created without one."""
    updated_bounds: Literal["inclusive", "exclusive"] = "inclusive"
    """from_updatedAt/to_updatedAt as >=/<= or as >/<. Repzo does not document which."""
    from_id_bound: Literal["exclusive", "inclusive"] = "exclusive"
    """from__id as > (what a keyset reader needs) or >=."""
    strict_fields: bool = False
    """Drop top-level fields a resource's create schema does not list, as a strict Mongoose
    schema would. Off by default because the generated specs omit many real fields."""
    default_per_page: int = Field(25, ge=1)
    """The SDK README's page size; Repzo's own default is undocumented."""
    max_per_page: int = Field(50_000, ge=1)
    """Integrations ask for 50000 to read a collection in one page, so that much is served."""
    default_limit: int = Field(20, ge=1)
    """limit of the limit/offset lists when none is given."""

    @field_validator("namespace")
    @classmethod
    def _namespace_not_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or any(not part for part in value):
            raise ValueError("namespace needs at least one non-empty part")
        return value

    def bound_rules(self) -> BoundRules:
        return BoundRules(
            updated_exclusive=self.updated_bounds == "exclusive",
            from_id_inclusive=self.from_id_bound == "inclusive",
        )

    def public(self) -> dict[str, object]:
        """Everything but the key, for the admin API."""
        return self.model_dump(mode="json", exclude={"api_key"})
