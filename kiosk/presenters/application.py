"""Submitting an application at the kiosk (前台综合受理): form → materials checklist → applicant → receipt.

An 一件事 package (高效办成一件事) is chosen from the same list: its combined guide first (一次告知:
the items and their departments, every material once, time limits; printable), then ONE form and ONE
checklist ("all brought" in one tap), the applicant from the ID card, and ONE tracking number for
every department's 办件 (docs/applications.md).

Seed 004 §四: an application with missing materials is not turned away: it is
submitted and the back office sends ONE correction notice (一次性告知)
listing everything missing. So the checklist warns but does not block. The
receipt carries the tracking number and its QR, which the progress screen
reads back. Every field keeps what was typed; a bad one gets a sentence in
the resident's language beside it, from the kiosk's own check or the
server's (400 invalid_fields, keyed by ``fields.<key>`` / ``applicant.<key>``).
"""

from __future__ import annotations

from typing import Any

from hallq.client import ApiError
from hallq.i18n import Msg, pick
from kiosk import receipts
from kiosk.presenters.base import ItemFlow, Option, Section, View
from kiosk.presenters.forms import PERSON_FIELDS, FormState, masked
from kiosk.presenters.guide import package_sections
from kiosk.presenters.identity import identity_today
from kiosk.texts import promised_words

STEPS = ["item", "form", "materials", "applicant", "confirm", "result"]
PACKAGE_STEPS = ["item", "package", "form", "materials", "applicant", "confirm", "result"]
PACKAGE = "pkg:"  # an option key that names a package, not an item
DELIVERY_FIELDS = [
    {"key": "delivery", "type": "select", "required": True, "label": Msg("kiosk.field.delivery"),
     "options": [{"value": "onsite", "label": Msg("kiosk.field.delivery.onsite")},
                 {"value": "mail", "label": Msg("kiosk.field.delivery.mail")}]},
    {"key": "address", "type": "text", "required": False, "max_len": 120, "label": Msg("kiosk.field.address")},
]


class SubmitApplication(ItemFlow):
    name = "apply"

    def reset(self) -> None:
        self.item: dict[str, Any] | None = None
        self.form: dict[str, Any] | None = None
        self.fields = FormState([])
        self.provided: set[int] = set()
        self.applicant = FormState(PERSON_FIELDS + DELIVERY_FIELDS)
        self.applicant.values["delivery"] = "onsite"
        self.application: dict[str, Any] | None = None
        self.no_form = False
        self.package: dict[str, Any] | None = None  # the chosen package's combined guide
        self.packages: list[dict[str, Any]] = []
        self.routed: list[dict[str, Any]] = []  # items this station takes for another hall (就近办 across halls)
        super().reset()

    def _load(self) -> None:
        super()._load()
        self.packages = self.s.api.packages()
        try:
            self.routed = self.s.api.routed_items()
        except ApiError as e:  # a server without routing: only its own items
            if e.status != 404:
                raise
            self.routed = []

    def _items(self) -> list[dict[str, Any]]:
        entry = self.s.cache.get("items")
        return [i for i in (entry[0] if entry else []) if i.get("guide", {}).get("form") is not None]

    # -- events -------------------------------------------------------------------------------

    def on_choose(self, key: str) -> None:
        if self.step == "item" and key.startswith(PACKAGE):
            self._attempt(lambda: self._load_package(key[len(PACKAGE):]))
        elif self.step == "item":
            item = next((i for i in self._items() if i["code"] == key), None) or \
                next((i for i in self.routed if i["code"] == key), None)
            if item is not None:
                self.item = item
                self._attempt(self._load_form)
        elif self.step == "materials":
            self.on_toggle(key)

    def _load_form(self) -> None:
        self.form = self.s.api.form(self.item["code"])
        self.fields = FormState(self.form.get("fields", []))
        self.provided = set()
        self.step = "form" if self.form.get("fields") else "materials"

    def _load_package(self, code: str) -> None:
        guide = self.s.api.package(code)
        self.package = guide
        self.item = {"code": code, "name": guide["name"], "business": guide["business"]}
        self.form = {"fields": guide["fields"], "materials": guide["materials"]}
        self.fields = FormState(guide["fields"])
        self.provided = set()
        self.step = "package"

    def on_toggle(self, key: str) -> None:
        i = int(key)
        self.provided.symmetric_difference_update({i})

    def on_field(self, arg: tuple[str, Any]) -> None:
        key, value = arg
        target = self.fields if self.step == "form" else self.applicant
        target.set(key, value, self.s.lang, identity_today(self))

    def on_card(self, card) -> None:
        if self.step == "applicant":
            self.applicant.from_card("name", card.name, self.s.lang)   # sent whole, shown masked
            self.applicant.from_card("id_number", card.id_number, self.s.lang, identity_today(self))

    def on_card_error(self, code: str) -> None:
        if self.step == "applicant":
            self.tell("warn", self.t("identity.card_unreadable"))

    def on_action(self, key: str) -> None:
        lang, today = self.s.lang, identity_today(self)
        if key == "start" and self.step == "package":
            self.step = "form" if self.fields.specs else "materials"
        elif key == "print_notice" and self.step == "package":
            self._print_notice()
        elif key == "all" and self.step == "materials":  # every material brought: one tap, not one per line
            self.provided = {m["index"] for m in (self.form or {}).get("materials", [])}
        elif key == "next":
            if self.step == "form" and self.fields.check_all(lang, today):
                self.step = "materials"
            elif self.step == "materials":
                self.step = "applicant"
            elif self.step == "applicant" and self._applicant_ok():
                self.step = "confirm"
        elif key == "submit" and self.step == "confirm":
            self._submit()
        elif key == "demo_card":
            from device_drivers.sim_id_reader import IdReaderSimulator, demo_card

            if isinstance(self.s.devices.reader, IdReaderSimulator):
                self.s.devices.reader.place(demo_card())
        elif key == "take" and self.item is not None:
            self.go("take_number", business=self.item["business"], item=self.item["code"])
        elif key == "done":
            self.finished = True

    def _applicant_ok(self) -> bool:
        ok = self.applicant.check_all(self.s.lang, identity_today(self))
        if self.applicant.values.get("delivery") == "mail" and not self.applicant.values.get("address", "").strip():
            self.applicant.errors["address"] = self.t("invalid.required", label=pick(DELIVERY_FIELDS[1]["label"], self.s.lang))
            ok = False
        return ok

    def _print_notice(self) -> None:
        """The package's 一次性告知单: every item, every material once, on one slip."""
        from datetime import datetime

        from kiosk.receipts import package_notice

        entry = self.s.cache.get("hall")  # the hall's clock, as the server last said (a demo may run on a virtual one)
        now = ((entry[0] if entry else {}).get("clock") or {}).get("now")
        printed_at = f"{now[:10]} {now[11:16]}" if now else datetime.now().astimezone().strftime("%Y-%m-%d %H:%M")
        package = self.package or {}
        self.print_notice(lambda: package_notice(self.s.devices.profile, self.s.hall_name(), package, self.s.lang,
                                                 printed_at))

    def missing(self) -> list[str]:
        return [pick(m["name"], self.s.lang) for m in (self.form or {}).get("materials", [])
                if m.get("required", True) and m["index"] not in self.provided]

    # -- submitting ----------------------------------------------------------------------------

    def _body(self) -> dict[str, Any]:
        a = self.applicant.clean
        body: dict[str, Any] = {"item": self.item["code"],
                "applicant": {"name": a["name"], "id_number": a["id_number"], "phone": a["phone"]},
                "fields": {k: v for k, v in self.fields.clean.items() if v != ""},
                "materials": sorted(self.provided), "delivery": a.get("delivery") or "onsite"}
        if body["delivery"] == "mail":
            body["address"] = a.get("address", "")
        for spec in self.fields.specs:   # number fields go as numbers
            k = spec["key"]
            if spec.get("type") == "number" and k in body["fields"]:
                body["fields"][k] = int(body["fields"][k])
        return body

    def _submit(self) -> None:
        body = self._body()
        key = self.press.for_body(body)
        self._attempt(lambda: self._submit_now(body, key))

    def _submit_now(self, body: dict[str, Any], key: str) -> None:
        if self.package is not None:  # one tracking number, one 办件 per item (一窗受理)
            app = self.s.api.file_package(body.pop("item"), body, key)
        else:
            app = self.s.api.submit_application(body, key)
        self.press.done()
        self.application = app
        self.step = "result"
        self.finished = True

        def receipt() -> bytes:
            names = [pick(m["name"], self.s.lang) for m in self.form.get("materials", [])]
            provided = [names[i] for i in sorted(self.provided) if i < len(names)]
            return receipts.application_receipt(self.s.devices.profile, self.s.hall_name(), app, self.s.lang,
                                                provided, self.missing())
        outcome = self.print_result(receipt)
        self.tell("ok" if outcome.printed else "warn", self.t("apply.done") if outcome.printed else self.t("take.no_printer"))
        self.after_commit("saying the receipt", lambda: self.s.say(self.t("apply.say")), None)

    def on_api_error(self, e: ApiError) -> None:
        message = e.message(self.s.lang)
        if e.code == "no_form":          # not applied for at a kiosk: a window does it
            self.no_form = True
        if e.code == "invalid_fields" and e.fields:
            per_field = (e.detail or {}).get("fields", {})
            form_errors, person_errors = {}, {}
            for f in e.fields:
                path = f.get("field", "")
                text = pick(per_field.get(path), self.s.lang) or message
                if path.startswith("fields."):
                    form_errors[path[len("fields."):]] = text
                elif path.startswith("applicant.") or path == "address":
                    person_errors[path.split(".")[-1]] = text
            self.fields.server_errors(form_errors)
            self.applicant.server_errors(person_errors)
            if form_errors:
                self.step = "form"
            elif person_errors:
                self.step = "applicant"
        self.tell("error", message)

    def go_back(self) -> bool:
        order = ["item", "package", "form", "materials", "applicant", "confirm"]
        if self.step in order and order.index(self.step) > 0:
            i = order.index(self.step) - 1
            if order[i] == "form" and not self.fields.specs:
                i -= 1
            if order[i] == "package" and self.package is None:
                i -= 1
            self.step = order[i]
            return True
        return False

    # -- the view ---------------------------------------------------------------------------------

    def view(self) -> View:
        n, total = self.step_of(PACKAGE_STEPS if self.package is not None else STEPS)
        kw = {"step_no": n, "step_count": total}
        if self.step == "item":
            v = self.base_view("item", "choose", "apply.title", prompt=self.t("apply.item"), **kw)
            v.options = [Option(PACKAGE + p["package"], self.s.pick(p["name"]),
                                detail=self.t("apply.package_detail", n=p["items"])) for p in self.packages]
            v.options += [Option(i["code"], self.s.pick(i["name"]), detail=i.get("guide", {}).get("department", ""))
                          for i in self._items()]
            v.options += [Option(i["code"], self.s.pick(i["name"]), detail=self._handled_by(i)) for i in self.routed]
            if not v.options and v.notice is None:
                self.tell("info", self.t("apply.no_items"))
                v.notice = self.notice
            if self.no_form:
                v.actions = [Option("take", self.t("apply.take_instead"), primary=True)]
            return v
        item_name = self.s.pick(self.item["name"]) if self.item else ""
        if self.step == "package":
            return self._package_view(item_name, kw)
        if self.step == "form":
            v = self.base_view("form", "form", "apply.title", prompt=self.t("apply.form"), **kw)
            v.fields = self.fields.fields(self.s.lang)
            for f, spec in zip(v.fields, self.fields.specs):
                f.hint = pick(spec.get("hint"), self.s.lang) if spec.get("hint") else ""
            v.result = {"item": item_name}
            v.actions = [Option("next", self.t("next"), primary=True)]
            return v
        if self.step == "materials":
            v = self.base_view("materials", "checklist", "apply.title", prompt=self.t("apply.materials"), multi=True, **kw)
            for m in (self.form or {}).get("materials", []):
                need = self.t("guide.required") if m.get("required", True) else self.t("guide.optional")
                v.options.append(Option(str(m["index"]), pick(m["name"], self.s.lang),
                                        detail=f"{self.t('guide.copies', form=m.get('form', ''), n=m.get('copies', 1))}，{need}",
                                        selected=m["index"] in self.provided))
            missing = self.missing()
            if missing and v.notice is None:
                self.tell("warn", self.t("apply.missing", list="、".join(missing)))
                v.notice = self.notice
            v.actions = [Option("next", self.t("next"), primary=True)]
            if self.package is not None:
                for o, m in zip(v.options, self.form["materials"]):
                    o.detail += "；" + self.t("apply.used_for", items="、".join(self.s.pick(n) for n in m["items"]))
                v.actions.insert(0, Option("all", self.t("apply.all_brought")))
            return v
        if self.step == "applicant":
            return self.person_view("applicant", "apply.title", "apply.applicant", self.applicant, **kw)
        if self.step == "confirm":
            v = self.base_view("confirm", "info", "apply.title", prompt=self.t("apply.confirm"), **kw)
            lines = [f"{f.label}：{_shown(f)}" for f in self.fields.fields(self.s.lang) if f.value]
            from kiosk.presenters.appointments import _masked

            v.sections = [Section(self.t("field.item"), [item_name])]
            if lines:
                v.sections.append(Section(self.t("apply.form"), lines))
            v.sections.append(Section(self.t("apply.materials"),
                                      [pick(m["name"], self.s.lang) for m in self.form.get("materials", [])
                                       if m["index"] in self.provided] or ["—"]))
            v.sections.append(Section(self.t("apply.applicant"), [_masked(self.applicant.clean)]))
            if self.missing():
                self.tell("warn", self.t("apply.missing", list="、".join(self.missing())))
                v.notice = self.notice
            v.actions = [Option("submit", self.t("apply.submit"), primary=True)]
            return v
        a = self.application or {}
        v = self.base_view("result", "result", "apply.title", back=False)
        parts = [self.t("apply.package_detail", n=len(a["parts"]))] if a.get("parts") else []
        routed = [self._handled_by(a["routed"])] if a.get("routed") else []
        v.result = {"label": self.t("apply.tracking"), "number": a.get("tracking_no", ""), "title": item_name,
                    "lines": parts + routed + [promised_words(self.t, a),
                                               self.t("apply.keep")],
                    "qr": a.get("tracking_no", ""), "qr_hint": ""}
        v.actions = [Option("done", self.t("done"), primary=True)]
        return v


    def _handled_by(self, item: dict[str, Any]) -> str:
        """由大河镇便民服务中心办理，本站代为受理: an item (or a receipt) of another hall, taken here."""
        to = item.get("routed_to") or item
        return self.t("routing.handled_by", target=self.s.pick(to.get("target_name") or to.get("name")) or
                      to.get("target") or to.get("site", ""))

    def _package_view(self, name: str, kw: dict[str, Any]) -> View:
        """一次告知: what the package does, who decides each part, every material once, the time limits."""
        g = self.package or {}
        v = self.base_view("package", "info", "apply.title", prompt=name, **kw)
        v.sections = package_sections(self, g)
        v.actions = [Option("start", self.t("apply.start"), primary=True),
                     Option("print_notice", self.t("guide.print_notice"))]
        return v


def _shown(f) -> str:
    """A form's answer on the confirm screen: an option's words; an ID number, a person's name (the baby's, the
    mother's...) or a phone masked as the applicant's are (docs/privacy.md)."""
    if f.kind == "select":
        return next((o.label for o in f.options if o.key == f.value), f.value)
    return masked(f.kind, f.value)
