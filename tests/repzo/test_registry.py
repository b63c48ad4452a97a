"""The Repzo resource registry: covers every vendored spec operation, is fresh, says the facts
the connector relies on."""

import os
import re
from pathlib import Path

import pytest

from connectors.repzo import registry_gen
from connectors.repzo.registry import Registry, load_registry

SPEC_DIR = registry_gen.SPEC_DIR
REGEN = f"run `{registry_gen.GENERATOR_COMMAND}`"

_SECTION = re.compile(r"^(\S[^:]*):")
_PATH = re.compile(r"""^  (["']?)(/[^"']*)\1:\s*$""")
_METHOD = re.compile(r"^    (get|put|post|patch|delete|head|options|trace):\s*$")


def scan_operations(path: Path) -> set[tuple[str, str]]:
    """(METHOD, path) pairs of a spec file, read line by line instead of parsed: parsing the
    ~65k lines of YAML in pure Python takes about 5 s. The files are block style with two-space
    indents; test_scan_agrees_with_the_registry notices if that stops being true."""
    found: set[tuple[str, str]] = set()
    in_paths, current = False, None
    for line in path.read_text(encoding="utf-8").splitlines():
        if section := _SECTION.match(line):
            in_paths, current = section.group(1) == "paths", None
        elif in_paths and (path_line := _PATH.match(line)):
            current = path_line.group(2)
        elif in_paths and current and (method := _METHOD.match(line)):
            found.add((method.group(1).upper(), current))
    return found


def spec_files() -> list[Path]:
    return sorted(SPEC_DIR.glob("*.yaml"))


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry()


def test_every_spec_operation_is_in_the_registry(registry: Registry) -> None:
    covered = registry.paths()
    missing = sorted(
        f"{method} {path} ({spec.name})"
        for spec in spec_files()
        for method, path in scan_operations(spec) - covered
    )
    assert not missing, "spec operations missing from registry.json:\n" + "\n".join(missing)


def test_scan_agrees_with_the_registry(registry: Registry) -> None:
    by_file: dict[str, set[tuple[str, str]]] = {}
    for resource in registry.resources.values():
        for op in resource.all_operations():
            if op.spec_file is not None:
                by_file.setdefault(op.spec_file, set()).add((op.method, op.path))
    per_resource = [spec for spec in spec_files() if spec.name != registry_gen.COMPLETE_SPEC]
    assert per_resource
    for spec in per_resource:
        assert scan_operations(spec) == by_file.get(spec.name, set()), spec.name


def test_registry_json_was_built_from_the_current_inputs(registry: Registry) -> None:
    current = registry_gen.input_digests()
    changed = sorted(
        name
        for name in set(current) | set(registry.inputs)
        if current.get(name) != registry.inputs.get(name)
    )
    assert not changed, f"registry.json is stale ({', '.join(changed)} changed): {REGEN}"


def test_registry_json_is_not_hand_edited(registry: Registry) -> None:
    assert registry.digest == registry_gen.content_digest(registry.model_dump(mode="json")), REGEN
    committed = registry_gen.OUTPUT_FILE.read_text(encoding="utf-8")
    assert committed == registry_gen.render(registry), REGEN


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("SYNCER_SLOW_TESTS"), reason="parses all specs (~5 s); SYNCER_SLOW_TESTS=1"
)
def test_registry_json_equals_a_fresh_build() -> None:
    fresh = registry_gen.build_registry()
    committed = registry_gen.OUTPUT_FILE.read_text(encoding="utf-8")
    summary = registry_gen.diff_summary(committed, fresh)
    assert committed == registry_gen.render(fresh), f"{REGEN}:\n" + "\n".join(summary)


def test_client_facts(registry: Registry) -> None:
    client = registry.get("client")
    assert client.path == "/client"
    assert client.list_style == "paged"
    assert client.updated_at_filter and client.id_keyset
    assert client.cursor == "updatedAt"
    assert client.delete_disables
    assert set(client.operations) == {"list", "get", "create", "update", "delete"}
    assert client.operations["get"].path == "/client/{id}"
    doc = registry_gen.load_yaml(SPEC_DIR / client.spec_file)
    create_body = registry_gen.Spec(client.spec_file, doc).lookup(
        "#/components/schemas/ClientCreateBody"
    )
    assert isinstance(create_body, dict)
    assert isinstance(required := create_body["required"], list)
    assert client.required_on_create == tuple(required) == ("name",)
    assert {"name", "client_code", "integration_meta"} <= set(client.create_fields)


def test_invoices_page_by_id_and_payments_by_updated_at(registry: Registry) -> None:
    # The SDK's FullInvoice.Find.Params has from__id but no from_updatedAt; Payment's has both.
    invoices = registry.get("fullinvoices")
    assert not invoices.updated_at_filter
    assert invoices.id_keyset
    assert invoices.cursor == "_id"
    assert registry.get("payments").cursor == "updatedAt"


@pytest.mark.parametrize("name", ["integration-command-log", "integration-action-log"])
def test_integration_logs_use_the_sdk_shape(registry: Registry, name: str) -> None:
    log = registry.get(name)
    assert log.list_style == "paged"
    assert log.upsert_key == "sync_id"
    assert log.operations["list"].query_params == ("sync_id",)
    # The SDK's Data types require the app but leave sync_id optional.
    assert "app_id" in log.required_on_create
    assert "sync_id" in log.create_fields
    assert "integrationId" not in log.create_fields
    assert log.notes


def test_sub_actions_are_named_by_their_path(registry: Registry) -> None:
    complete = registry.get("asset-part-transfer").sub_actions["complete"]
    assert (complete.method, complete.path) == ("POST", "/asset-part-transfer/{id}/complete")
    assert registry.get("patch-action").sub_actions["execute"].path == "/patch-action/execute/{id}"
    bulk = registry.get("patch-action").sub_actions["bulk_update"]
    assert (bulk.method, bulk.path, bulk.spec_file) == ("PUT", "/patch-action", None)


def test_nested_collection_is_its_own_resource(registry: Registry) -> None:
    sub = registry.get("product/sub-categories")
    assert sub.operations["get"].path == "/product/sub-categories/{id}"
    assert all(op.path.startswith("/product/sub-categories") for op in sub.all_operations())
    assert {op.path for op in registry.get("product").all_operations()} == {
        "/product",
        "/product/{id}",
    }


def test_get_suggests_close_names(registry: Registry) -> None:
    with pytest.raises(KeyError, match="did you mean client"):
        registry.get("clinet")


def test_cursor_follows_the_filters(registry: Registry) -> None:
    for resource in registry.resources.values():
        if resource.list_style == "none":
            expected = None
        elif resource.updated_at_filter:
            expected = "updatedAt"
        else:
            expected = "_id" if resource.id_keyset else None
        assert resource.cursor == expected, resource.name


def test_every_override_reason_lands_in_notes(registry: Registry) -> None:
    overrides = registry_gen.load_overrides()
    for name, override in overrides.resources.items():
        assert override.reason in registry.get(name).notes, name


def test_counts(registry: Registry) -> None:
    ops = [op for resource in registry.resources.values() for op in resource.all_operations()]
    from_specs = [op for op in ops if op.spec_file is not None]
    files = spec_files()
    bundle = scan_operations(SPEC_DIR / registry_gen.COMPLETE_SPEC)
    # 89 per-resource files plus the bundle; every file but the bundle is one resource.
    assert len(files) == 90
    assert len(registry.resources) == 89
    # 438 distinct operations: the bundle has 435 of them (it lacks the three /cart ones),
    # and the overrides add PUT /patch-action and PUT /svix-integration.
    assert len(from_specs) == len({(op.method, op.path) for op in from_specs}) == 438
    assert len(bundle) == 435
    assert len(ops) == 440
