"""Whether a flow writes the target's key back to its source, and why.

Writing back links the two records for good: Repzo's own integrations store the ERP's number
on the Repzo invoice, so a later lookup (by another tool, or by syncer after a lost state
store) finds it. But a write-back is a write to a system the flow otherwise only reads, so it
happens only where it serves that purpose:

- never where the source cannot store another system's key, or its mapping names no key to
  store (``identity``);
- as ``write_back:`` on the flow says, when it says;
- for one half of a two-way pair (the records are linked both ways);
- where the target gives what syncer creates an id of its own (an ERP's customer or invoice
  number), which nothing but the write-back can tell the source;
- not for a target that keeps the record's own key, such as a CSV export: there is nothing to
  learn, and writing to every exported record would rewrite other integrations' links.

Whatever the rule says, a different key already on the source record is never overwritten:
that is a conflict for a person (``syncer conflicts list``).
"""

from __future__ import annotations

from dataclasses import dataclass

from syncer.config.models import FlowConfig
from syncer.connector import Connector, KeyWriteBack, StreamInfo
from syncer.mapping.mapping import CompiledMapping


@dataclass(frozen=True, slots=True)
class WriteBack:
    enabled: bool
    reason: str

    def describe(self, flow: FlowConfig) -> str:
        where = f"{flow.source.connector}.{flow.source.stream}"
        verdict = "yes" if self.enabled else "no"
        return f"writes keys back to {where}: {verdict}, because {self.reason}"


def can_store_keys(connector: type[object] | object) -> bool:
    """Whether a connector (class or instance) can store another system's key on a record
    without that counting as a change (``annotate``)."""
    if isinstance(connector, type):
        return issubclass(connector, KeyWriteBack)
    return isinstance(connector, KeyWriteBack)


def decide(
    flow: FlowConfig,
    *,
    source: type[Connector] | Connector | type[object],
    source_mapping: CompiledMapping,
    target_info: StreamInfo | None,
    pair: str | None,
) -> WriteBack:
    """The write-back rule for ``flow`` (see the module docstring)."""
    source_name = flow.source.connector
    if not can_store_keys(source):
        return WriteBack(False, f"{source_name} cannot store another system's key on a record")
    if not source_mapping.identity:
        return WriteBack(
            False, f"the mapping {source_mapping.source} names no identity key to store"
        )
    if flow.write_back is not None:
        return WriteBack(
            flow.write_back, f"the flow sets write_back: {str(flow.write_back).lower()}"
        )
    if pair is not None:
        return WriteBack(True, f"it is one half of a two-way pair with flow {pair!r}")
    target = f"{flow.target.connector}.{flow.target.stream}"
    if target_info is not None and target_info.assigns_ids:
        return WriteBack(True, f"{target} gives the records syncer creates ids of its own")
    return WriteBack(
        False,
        f"{target} keeps each record's own key (an export): there is no new key to learn; set "
        "write_back: true on the flow to link anyway",
    )
