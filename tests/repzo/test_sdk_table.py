"""The SDK table (sdk.json): fresh, read correctly from the vendored SDK, and what the registry
takes from it."""

import re

import pytest

from connectors.repzo import registry_gen, sdk_gen, typescript
from connectors.repzo.registry import Registry, Resource, load_registry
from connectors.repzo.sdk_gen import SdkService, SdkTable

REGEN = f"run `{sdk_gen.GENERATOR_COMMAND}`, then `{registry_gen.GENERATOR_COMMAND}`"

# The 13 resources whose specs describe a limit/offset list while the SDK reads each find
# result as its DefaultPaginationResult.
FORMERLY_LIMIT_OFFSET = (
    "activity-ai-sales-order",
    "activity-storecheck",
    "asset-part",
    "asset-part-receival",
    "asset-part-transfer",
    "asset-part-type",
    "asset-part-unit",
    "ocr-invoice-job",
    "ocr-invoice-job-group",
    "ocr-invoice-job-page",
    "ocr-invoice-job-template",
    "return-asset-part-unit",
    "store-asset-part-unit",
)


@pytest.fixture(scope="module")
def table() -> SdkTable:
    return sdk_gen.load_table()


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry()


def by_sdk_path(registry: Registry, path: str) -> Resource:
    """A registry resource by the path the SDK calls (``pricelists`` is ``pricelist``)."""
    found = [r for r in registry.resources.values() if r.stream == path]
    assert len(found) == 1, path
    return found[0]


# --- freshness ---------------------------------------------------------------------------


def test_sdk_json_was_built_from_the_current_inputs(table: SdkTable) -> None:
    current = sdk_gen.input_digests()
    changed = sorted(
        name
        for name in set(current) | set(table.inputs)
        if current.get(name) != table.inputs.get(name)
    )
    assert not changed, f"sdk.json is stale ({', '.join(changed)} changed): {REGEN}"


def test_sdk_json_is_not_hand_edited(table: SdkTable) -> None:
    assert table.digest == sdk_gen.content_digest(table.model_dump(mode="json")), REGEN
    committed = sdk_gen.OUTPUT_FILE.read_text(encoding="utf-8")
    assert committed == sdk_gen.render_table(table), REGEN


def test_sdk_json_equals_a_fresh_build() -> None:
    # About a second: the reader is fast enough to check the whole output, not only digests.
    fresh = sdk_gen.build_table()
    committed = sdk_gen.OUTPUT_FILE.read_text(encoding="utf-8")
    summary = sdk_gen.diff_summary(committed, fresh)
    assert committed == sdk_gen.render_table(fresh), f"{REGEN}:\n" + "\n".join(summary)


def test_the_registry_was_built_from_this_table(registry: Registry) -> None:
    assert registry.inputs["sdk.json"] == sdk_gen.sha256_of(sdk_gen.OUTPUT_FILE), REGEN


def test_the_vendored_sdk_parses_without_issues(table: SdkTable) -> None:
    # Two end points of the map have no service object in index.ts; anything else is new.
    unexpected = [i for i in table.issues if not i.endswith("has no service object")]
    assert not unexpected, unexpected
    assert len(table.services) == 127


def test_committed_files_name_no_machine_paths() -> None:
    for path in (*sdk_gen.SDK_DIR.iterdir(), sdk_gen.OUTPUT_FILE, registry_gen.OUTPUT_FILE):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"/(work|home|tmp|Users)/", text), path.name


# --- what the table says -----------------------------------------------------------------


def test_services_and_their_methods(table: SdkTable) -> None:
    client = table.services["client"]
    assert (client.service, client.namespace) == ("client", "Client")
    assert client.methods == {
        "create": "POST client",
        "find": "GET client",
        "get": "GET client/{id}",
        "remove": "DELETE client/{id}",
        "update": "PUT client/{id}",
    }
    assert table.services["product-category"].namespace == "Category"
    assert table.services["pricelistsitems"].service == "priceListItem"
    # The log classes are static members with a literal _path.
    log = table.services["integration-command-log"]
    assert log.methods == {
        "commit": "POST integration-command-log",
        "load": "GET integration-command-log",
    }
    assert log.namespace == "CommandLog"


def test_find_params_of_client(table: SdkTable) -> None:
    client = table.services["client"]
    assert client.find_params is not None
    assert {"page", "per_page", "sort", "sortPageOrder"} <= set(client.find_params)
    assert {"from_updatedAt", "to_updatedAt", "from__id", "sortBy"} <= set(client.find_params)
    assert client.find_open
    assert client.find_prefixes == ("customFields.", "integration_meta.")
    assert client.sort_by_fields == ("_id",)
    assert client.find_result == "paged"


def test_quoted_params_and_sort_by_unions(table: SdkTable) -> None:
    invoices = table.services["fullinvoices"]
    assert "serial_number.formatted" in (invoices.find_params or ())
    assert "from_updatedAt" not in (invoices.find_params or ())
    assert table.services["asset-part"].sort_by_fields == (
        "_id",
        "barcode",
        "createdAt",
        "model",
        "name",
        "updatedAt",
    )


def test_bodies(table: SdkTable) -> None:
    variant = table.services["variant"]
    assert variant.create_required == ("name", "price", "product")
    assert "integration_meta" in (variant.create_fields or ())
    client = table.services["client"]
    assert client.create_required == ("name",)
    assert client.update_prefixes == ("customFields.", "integration_meta.")
    assert "integration_meta." in table.services["rep"].update_prefixes
    # `type Body = Data`, where Data is not exported.
    action_log = table.services["integration-action-log"]
    assert action_log.create_body_type == "Service.ActionLogs.Create.Body"
    assert "app_id" in (action_log.create_required or ())
    assert "sync_id" not in (action_log.create_required or ())
    # A body that may also be an array requires nothing.
    meta = table.services["update-integration-meta"]
    assert (meta.create_fields, meta.create_required) == (("integration_meta_keys",), ())


def test_record_fields(table: SdkTable) -> None:
    client = table.services["client"].record_fields
    assert {"financials.credit_limit", "integration_meta.*", "customFields.*"} <= set(client)
    assert "jobs[].description" in client
    assert "credit_limit" not in client  # commented out in ClientSchema
    items = table.services["pricelistsitems"].record_fields
    # Populated references to other resources stay leaves.
    assert "product_id" in items
    assert not any(path.startswith("product_id.") for path in items)
    assert all(
        path.count(".") < sdk_gen.MAX_RECORD_DEPTH
        for s in table.services.values()
        for path in s.record_fields
        if "*" not in path
    )


# --- the registry takes it ---------------------------------------------------------------


def test_updated_to_filter(registry: Registry) -> None:
    paths = [
        "client",
        "product",
        "variant",
        "product-category",
        "pricelists",
        "pricelistsitems",
        "tax",
        "warehouse",
        "rep",
        "refund",
        "adjust-inventory",
        "proforma",
    ]
    with_to = {p for p in paths if by_sdk_path(registry, p).updated_to_filter}
    assert with_to == {"client", "product", "adjust-inventory", "proforma"}
    assert all(by_sdk_path(registry, p).updated_at_filter for p in paths)


def test_id_keyset_needs_from_id_and_a_sort_by_on_id(registry: Registry) -> None:
    variant = by_sdk_path(registry, "variant")
    assert variant.list_params is not None
    assert "from__id" in variant.list_params and "sortBy" not in variant.list_params
    assert not variant.sort_by and not variant.id_keyset
    items = by_sdk_path(registry, "pricelistsitems")
    assert items.list_params is not None
    assert "from__id" not in items.list_params and "sortBy" not in items.list_params
    assert not items.id_keyset
    client = registry.get("client")
    assert client.sort_by and client.id_keyset


def test_invoices_page_by_id_and_payments_by_updated_at(registry: Registry) -> None:
    payments = registry.get("payments")
    assert payments.updated_at_filter and payments.cursor == "updatedAt"
    invoices = registry.get("fullinvoices")
    assert not invoices.updated_at_filter
    assert invoices.id_keyset and invoices.cursor == "_id"


@pytest.mark.parametrize("name", FORMERLY_LIMIT_OFFSET)
def test_sdk_paged_lists(registry: Registry, name: str) -> None:
    resource = registry.get(name)
    assert resource.list_style == "paged"
    assert any("list_style paged (spec: limit_offset_total)" in note for note in resource.notes)


def test_client_list_params_and_fields(registry: Registry) -> None:
    client = registry.get("client")
    assert client.sdk_namespace == "Client"
    assert client.list_params is not None
    assert {"from_updatedAt", "to_updatedAt", "from__id", "sortBy", "page", "per_page"} <= set(
        client.list_params
    )
    assert {"financials.credit_limit", "integration_meta.*"} <= set(client.record_fields)
    assert client.update_prefixes == ("customFields.", "integration_meta.")
    assert "integration_meta." in registry.get("variant").list_param_prefixes


def test_command_log_requires_the_app(registry: Registry) -> None:
    log = registry.get("integration-command-log")
    assert "app_id" in log.required_on_create
    assert log.upsert_key == "sync_id"
    assert log.list_style == "paged"


def test_every_sdk_list_reaches_the_registry(registry: Registry, table: SdkTable) -> None:
    for resource in registry.resources.values():
        service = table.services.get(resource.stream)
        if service is None:
            assert resource.list_params is None and resource.sdk_namespace is None
        elif service.find_params is not None:
            assert resource.list_params == service.find_params, resource.name
            assert resource.updated_at_filter == ("from_updatedAt" in service.find_params)


def test_meta_types(registry: Registry) -> None:
    found = {name: r.meta_type for name, r in registry.resources.items() if r.meta_type}
    assert found == {
        "client": "clients",
        "fullinvoices": "fullinvoices",
        "payments": "payments",
        "proforma": "proformas",
        "transfer": "transfers",
    }


# --- the reader on small inputs ----------------------------------------------------------

INDEX = """
export const end_points = { WIDGET: "widget", ORPHAN: "orphan" } as const;
export default class Repzo {
  private async _fetch(baseUrl: string, path: string, params?: Params) {
    return this._retryRequest(async () => {
      let res: any = await axios.get(`${baseUrl}/${path}`, { params });
      return res.data;
    });
  }
  private async _create(baseUrl: string, path: string, body: Data) {
    let res: any = await axios.post(`${baseUrl}/${path}`, body);
    return res.data;
  }
  private async _update(baseUrl: string, path: string, body: Data) {
    let res: any = await axios.put(`${baseUrl}/${path}`, body);
    return res.data;
  }
  private async _patch(baseUrl: string, path: string, body: Data) {
    let res: any = await axios.put(`${baseUrl}/${path}`, body);
    return res.data;
  }
  private async _delete(baseUrl: string, path: string) {
    let res: any = await axios.delete(`${baseUrl}/${path}`);
    return res.data;
  }
  core = { reauth: async () => {} };
  widget = {
    _path: Repzo._end_points.WIDGET,
    find: async (
      params?: Service.Widget.Find.Params,
    ): Promise<Service.Widget.Find.Result> => {
      return await this._fetch(this.svAPIEndpoint, this.widget._path, params);
    },
    create: async (body: Service.Widget.Create.Body): Promise<Service.Widget.Create.Result> => {
      return await this._create(this.svAPIEndpoint, this.widget._path, body);
    },
    update: async (
      id: string,
      body: Service.Widget.Update.Body,
    ): Promise<Service.Widget.Update.Result> => {
      return await this._update(this.svAPIEndpoint, this.widget._path + `/${id}`, body);
    },
  };
  static GadgetLog = class {
    _path: string = "gadget-log";
    async load(sync_id: string) {
      const params: Service.GadgetLog.Find.Params = { sync_id };
      const res: Service.GadgetLog.Find.Result = await this.superThis._fetch(
        this.superThis.svAPIEndpoint, this._path, params);
    }
    setStatus(status: string) { this.status = status; }
  };
}
"""

TYPES = """
export interface DefaultPaginationQueryParams { per_page?: number; page?: number; }
export interface DefaultPaginationResult { total_result: number; data: any[]; }
interface Creator { _id: string; type: "admin" | "rep"; }
export type StringId = string;
export namespace Service {
  export namespace Other {
    export interface OtherSchema { _id: string; secret: string; }
  }
  export namespace Widget {
    interface Dims { width?: number; height?: number; }
    export interface WidgetSchema {
      _id: StringId;
      name: string;
      // retired?: boolean;
      /* gone?: string; */
      dims?: Dims;
      creator: Creator;
      tags: { label: string; weight?: number }[];
      integration_meta?: { [key: string]: any };
      extra?: Record<string, any>;
      other?: string | Other.OtherSchema;
      parent?: WidgetSchema;
      a?: { b?: { c?: { d?: { e?: string } } } };
      mystery?: NoSuchType;
      "quoted.key"?: string;
    }
    type SortKeys = "_id" | "name";
    export namespace Find {
      export type Params = DefaultPaginationQueryParams & {
        from_updatedAt?: number;
        // to_updatedAt?: number;
        "serial_number.formatted"?: string;
        sortBy?: { field: SortKeys; type: "asc" | "desc" }[];
        [key: `integration_meta.${string}`]: any;
      };
      export interface Result extends DefaultPaginationResult { data: WidgetSchema[]; }
    }
    export interface Base { name?: string; price?: number; code?: string; }
    export namespace Create {
      export interface Body extends Omit<Base, "code">, Pick<WidgetSchema, "creator"> {
        name: string;
      }
      export type Result = WidgetSchema;
    }
    export namespace Update {
      export type Body = Partial<WidgetSchema> & { [key: string]: any };
      export type Result = WidgetSchema;
    }
  }
  export namespace GadgetLog {
    export namespace Find {
      export type Params = { sync_id?: string; [key: string]: any };
      export type Result = string[];
    }
  }
  export namespace Broken {
    export interface Bad { a: ; }
    export interface Good { b: string; }
  }
}
"""


@pytest.fixture(scope="module")
def small() -> SdkTable:
    return sdk_gen.build_table(INDEX, TYPES, inputs={})


def test_reader_finds_services(small: SdkTable) -> None:
    assert set(small.services) == {"widget", "gadget-log"}
    assert small.services["widget"].methods == {
        "create": "POST widget",
        "find": "GET widget",
        "update": "PUT widget/{id}",
    }
    assert small.services["gadget-log"].methods == {"load": "GET gadget-log"}
    assert small.end_points == {"ORPHAN": "orphan", "WIDGET": "widget"}


def test_reader_reads_find_params(small: SdkTable) -> None:
    widget = small.services["widget"]
    assert widget.find_params == (
        "from_updatedAt",
        "page",
        "per_page",
        "serial_number.formatted",
        "sortBy",
    )
    assert not widget.find_open
    assert widget.find_prefixes == ("integration_meta.",)
    assert widget.sort_by_fields == ("_id", "name")
    assert widget.find_result == "paged"
    log = small.services["gadget-log"]
    assert log.find_open and log.find_prefixes == sdk_gen.OPEN_PARAM_PREFIXES
    assert log.find_result == "array"


def test_reader_resolves_bodies(small: SdkTable) -> None:
    widget = small.services["widget"]
    assert widget.create_fields == ("creator", "name", "price")
    assert widget.create_required == ("creator", "name")
    assert widget.update_required == ()
    assert widget.update_open
    assert "quoted.key" in (widget.update_fields or ())


def test_reader_expands_record_fields(small: SdkTable) -> None:
    fields = set(small.services["widget"].record_fields)
    assert {
        "_id",
        "name",
        "dims.width",
        "dims.height",
        "creator._id",
        "creator.type",
        "tags[].label",
        "tags[].weight",
        "integration_meta.*",
        "extra.*",
        "other",
        "parent",
        "a.b.c.d",
        "mystery",
        "quoted.key",
    } <= fields
    assert not {"retired", "gone", "other.secret", "a.b.c.d.e"} & fields
    assert not any(path.startswith("parent.") for path in fields)


def test_reader_reports_what_it_cannot_read(small: SdkTable) -> None:
    issues = "\n".join(small.issues)
    assert "types.ts: line " in issues and "statement skipped" in issues
    assert "unresolved type NoSuchType" in issues
    assert "end point orphan has no service object" in issues
    # The reader skips the broken declaration only, not the rest of its namespace.
    module, parse_issues = typescript.parse_types(TYPES, "types.ts")
    assert len(parse_issues) == 1
    assert "Good" in module.types[("Service", "Broken")]


def test_reader_survives_garbage() -> None:
    table = sdk_gen.build_table("class Repzo { x = {", "export namespace Service { interface", {})
    assert table.services == {}
    assert table.issues


# --- the registry generator's layering ---------------------------------------------------

WIDGET_SPEC = {
    "openapi": "3.0.0",
    "info": {"title": "Repzo API - Widget API"},
    "paths": {
        "/widget": {
            "get": {
                "summary": "List widgets",
                "parameters": [
                    {"in": "query", "name": "limit", "schema": {"type": "integer"}},
                    {"in": "query", "name": "offset", "schema": {"type": "integer"}},
                    {"in": "query", "name": "to_updatedAt", "schema": {"type": "integer"}},
                ],
                "responses": {
                    "200": {
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "success": {"type": "boolean"},
                                        "data": {"type": "array"},
                                        "total": {"type": "integer"},
                                    },
                                }
                            }
                        }
                    }
                },
            },
            "post": {
                "summary": "Create a widget",
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["code"],
                                "properties": {"code": {"type": "string"}},
                            }
                        }
                    }
                },
                "responses": {"201": {"description": "created"}},
            },
        }
    },
}


def widget_resource(overrides: registry_gen.Overrides, sdk: dict[str, SdkService]) -> Resource:
    spec = registry_gen.Spec("widget-bundled.yaml", WIDGET_SPEC)
    return registry_gen.build_resource(
        "/widget", spec, registry_gen.spec_operations(spec), overrides, sdk
    )


def test_the_sdk_wins_over_the_spec(small: SdkTable) -> None:
    resource = widget_resource(registry_gen.Overrides(), dict(small.services))
    assert resource.list_style == "paged"
    assert resource.updated_at_filter and not resource.updated_to_filter
    assert resource.sort_by and not resource.id_keyset
    assert resource.cursor == "updatedAt"
    assert resource.required_on_create == ("creator", "name")
    assert resource.list_param_prefixes == ("integration_meta.",)
    assert resource.notes == (
        "The SDK's types win over the spec here: list_style paged (spec: limit_offset_total), "
        "required_on_create [creator, name] (spec: [code]).",
    )


def test_without_the_sdk_the_spec_stands() -> None:
    resource = widget_resource(registry_gen.Overrides(), {})
    assert resource.list_style == "limit_offset_total"
    assert resource.updated_at_filter
    assert resource.list_params is None and resource.sdk_namespace is None
    assert resource.required_on_create == ("code",)


def test_an_override_may_not_contradict_the_sdk(small: SdkTable) -> None:
    contradicting = registry_gen.Overrides.model_validate(
        {"resources": {"widget": {"reason": "Wrong.", "updated_at_filter": False}}}
    )
    with pytest.raises(registry_gen.SpecError, match="contradicts the SDK"):
        widget_resource(contradicting, dict(small.services))
    adding = registry_gen.Overrides.model_validate(
        {"resources": {"widget": {"reason": "Known type.", "meta_type": "widgets"}}}
    )
    resource = widget_resource(adding, dict(small.services))
    assert resource.meta_type == "widgets"
    assert resource.notes[-1] == "Known type."
