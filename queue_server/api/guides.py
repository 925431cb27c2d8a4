"""Guides edited by the manager (办事指南维护) and the catalogue as services.toml: managers only.

``PUT /items/<code>/guide`` saves one item checked as the services file is (422 ``invalid_fields``: every
field's problem, nothing saved); ``GET /items/<code>/versions`` lists its kept versions; ``GET
/catalogue.toml`` exports the active items as a services file and ``POST /catalogue.toml`` imports one
(a dry run unless ``apply=1``). See queue_server/domain/guides.py and docs/consoles.md "Guides".
"""

from __future__ import annotations

from flask import Response, request

from hallq.hallconfig import ITEM
from hallq.schema import Arr, Bool, Int, Obj, Str
from queue_server.api import api, operation
from queue_server.api.hall import state
from queue_server.domain import guides
from queue_server.readmodel import guides as reads

ERRORS = (400, 401, 403, 404, 422)
MAX_ITEM = 512 * 1024
# an [[items]] entry as in services.toml (docs/configuration.md), its code in the path
# (checked by the domain, as the services file is, so that every problem of an edit is listed at once: 422)
ITEM_BODY = Obj({}, extra=True, description="the item as an [[items]] entry of services.toml (docs/configuration.md: "
                                            + ", ".join(k for k in ITEM.fields if k != "code") + "), without its code")
SAVED = Obj({"item": Str(), "version": Int(description="the version now current (1: before the first edit)"),
             "changed": Arr(Str(), description="the keys that changed; empty: nothing did, nothing kept")},
            required=["item", "version", "changed"])
VERSION = Obj({"version": Int(), "at": Str(), "actor": Str(description="who: staff:<job number>, system"),
               "source": Str(enum=["file", "console", "import"]), "changed": Arr(Str()), "active": Bool(),
               "item": Obj({}, extra=True, description="the whole item as it was")}, extra=True)
IMPORTED = Obj({"applied": Bool(), "items": Int(description="items in the file"), "added": Int(), "updated": Int(),
                "changes": Arr(Obj({"item": Str(), "added": Bool(), "changed": Arr(Str())}, extra=True),
                               max_items=None),
                "not_in_file": Arr(Str(), max_items=None, description="active items the file does not hold: left "
                                                                     "as they are")}, extra=True)


@api.put("/items/<code>/guide")
@operation("save_item_guide", "Save a service item's guide edited by the manager (validated as services.toml)",
           tag="guides", auth="manager", body=ITEM_BODY, response=SAVED, errors=ERRORS, max_body=MAX_ITEM,
           description="The whole item but its code: name, business, conditions, materials, fee, basis, time "
                       "limits, form... Checked as the services file is checked at start; a refusal lists every "
                       "field's problem and saves nothing. A change is kept as a new version and journaled "
                       "(item_edited); GET /items and GET /items/{code} show it at once, and GET /hall's catalogue "
                       "moves so that kiosks read the items again.")
def save_item_guide(code, actor, body):
    return state().service.guides.save_item(actor, code, body)


@api.get("/items/<code>/versions")
@operation("list_item_versions", "Every kept version of a service item's guide, newest first", tag="guides",
           auth="manager", response=Arr(VERSION, max_items=None), errors=(401, 403, 404))
def list_item_versions(code, actor):
    return reads.versions(state(), code)


@api.get("/catalogue.toml")
@operation("export_catalogue", "The active service items as a services file (services.toml's [[items]])",
           tag="guides", auth="manager", errors=(401, 403), media=("application/toml",))
def export_catalogue(actor):
    return Response(reads.catalogue_toml(state()), mimetype="application/toml",
                    headers={"Content-Disposition": 'attachment; filename="services.toml"'})


@api.post("/catalogue.toml")
@operation("import_catalogue", "Import service items from a services file: a dry run unless apply=1",
           tag="guides", auth="manager", response=IMPORTED, errors=ERRORS, max_body=guides.MAX_TOML,
           query={"apply": Str(enum=["0", "1"], description="1: apply; otherwise only say what would change")},
           description="Send the file as the request body (UTF-8 TOML, 4 MB at most). Checked whole as at start; "
                       "a refusal lists every problem. Items in the file are added or replaced (each change kept as "
                       "a version, one journal entry catalogue_imported); items it does not hold are left alone.")
def import_catalogue(actor):
    data = request.get_data(cache=False)
    return state().service.guides.import_toml(actor, data, apply=request.args.get("apply") == "1")
