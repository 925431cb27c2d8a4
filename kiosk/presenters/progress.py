"""Tracking an application (进度查询): by the receipt's QR, the tracking number, or the ID card.

The timeline shows every step (submitted, pre-review, accepted / correction
notice / rejected, result ready, delivered) with its time and note; a
correction shows the one list of everything missing (一次性告知); an overdue
application says so in words, not only in colour. An 一件事 package has one
tracking number and one progress: each department's part with its status
(partial results shown as they come), done when every part is.

领取结果: when a result waits to be collected on site, 领取结果 takes a number for the 出件 window (the
appointment class: the hall asked the resident to come) with the applicant's ID card, read on the lookup or
asked for then; the ticket is printed and shown like any (docs/applications.md, "Collecting a result").
"""

from __future__ import annotations

from typing import Any

from hallq.client import ApiError
from hallq.i18n import pick
from kiosk.presenters.base import Flow, Option, Section, View
from kiosk.presenters.identity import IdentityInput, identity_today
from kiosk.receipts import when
from kiosk.scans import normalise_tracking, parse_scan
from kiosk.texts import promised_words


class Progress(Flow):
    name = "progress"

    def reset(self) -> None:
        self.typed = ""
        self.error = ""
        self.identity: IdentityInput | None = None
        self.found: list[dict[str, Any]] = []
        self.application: dict[str, Any] | None = None
        self.handing_in: set[int] = set()
        self.card_id: str | None = None
        self.ticket: dict[str, Any] | None = None  # the 出件 window's number (领取结果)
        self.where = ""
        self.print_problem: str | None = None
        super().reset()

    def first_step(self) -> str:
        return "lookup"

    # -- events -------------------------------------------------------------------------------

    def on_scan(self, text: str) -> None:
        scan = parse_scan(text)
        if scan is None or scan.kind != "application":
            self.tell("error", self.t("scan.unknown"))
            return
        self._open(scan.value)

    def on_card(self, card) -> None:
        if self.step in ("lookup", "identity"):
            self.card_id = card.id_number
            self._find(card.id_number)
        elif self.step == "collect":
            self.card_id = card.id_number
            self._collect()
        elif self.step == "supplement":
            # opened by its receipt: the card proves it is the applicant's (the server checks it matches)
            self.card_id = card.id_number

    def on_card_error(self, code: str) -> None:
        self.tell("warn", self.t("identity.card_unreadable"))

    def on_action(self, key: str) -> None:
        if key == "type_tracking":
            self.step = "entry"
        elif key == "type_id":
            self.identity = IdentityInput(self, ("id",))
            self.identity.mode = "type_id"
            self.step = "identity"
        elif key == "demo_card":
            IdentityInput(self).on_action("demo_card")
        elif key == "supplement" and self.step == "detail":
            self.handing_in = set()
            self.step = "supplement"
        elif key == "hand_in" and self.step == "supplement":
            self._hand_in()
        elif key == "collect" and self.step == "detail":
            if self.card_id:
                self._collect()
            else:
                self.step = "collect"
        elif key == "demo_card" and self.step == "collect":
            IdentityInput(self).on_action("demo_card")
        elif key == "done":
            self.finished = True
        elif self.identity is not None:
            self.identity.on_action(key)

    def on_toggle(self, key: str) -> None:
        if self.step == "supplement":
            self.handing_in.symmetric_difference_update({int(key)})

    def _missing(self, kind: str) -> list[dict[str, Any]]:
        correction = (self.application or {}).get("correction") or {}
        return [m for m in correction.get("missing", []) if m.get("kind", "material") == kind]

    def _hand_in(self) -> None:
        if not self.card_id:
            self.tell("warn", self.t("progress.supplement_card"))
            return
        no = self.application["tracking_no"]
        package = self.application.get("package")
        if package:  # the notice's lines, by name, to the package's one list of materials
            # a notice names a material in the hall's languages, the package's list in Simplified Chinese: compared
            # as the latter (compared as given, nothing ever matched and the kiosk handed in an empty supplement)
            wanted = {_zh(m["name"]) for i, m in enumerate(self._missing("material")) if i in self.handing_in}
            chosen = [m["index"] for m in self._package_materials(package) if _zh(m["name"]) in wanted]
            body: dict[str, Any] = {"materials": chosen, "id_number": self.card_id}
        else:
            body = {"materials": sorted(self.handing_in), "id_number": self.card_id}
        key = self.press.for_body({"no": no, **body})

        def run() -> None:
            if package:
                self.application = self.s.api.supplement_package(no, body, key)
            else:
                self.application = self.s.api.supplement(no, body, key)
            self.press.done()
            self.step = "detail"
            self.tell("ok", self.t("progress.supplemented"))
            self.s.say(self.t("progress.supplemented"))
        self._attempt(run)

    def _collect(self) -> None:
        from kiosk.presenters.take_number import deliver_ticket, where_to_wait

        no = (self.application or {})["tracking_no"]
        body = {"id_number": self.card_id}
        key = self.press.for_body({"collect": no, **body})

        def run() -> None:
            self.ticket = self.s.api.collect_result(no, body, key)
            self.press.done()
            self.step = "collected"
            self.finished = True
            self.where = where_to_wait(self, self.ticket)
            self.print_problem, _ = deliver_ticket(self, self.ticket, self.where)
        self._attempt(run)

    def on_api_error(self, e: ApiError) -> None:
        if self.step == "collect" and e.code == "not_yours":
            self.card_id = None  # another's card: the right one may still be read
        if self.step == "entry" and e.status == 404:
            self.error = e.message(self.s.lang)
            return
        self.tell("error", e.message(self.s.lang))

    def _package_materials(self, code: str) -> list[dict[str, Any]]:
        return self.s.api.package(code)["materials"]

    def on_submit(self, value: Any) -> None:
        if self.step == "entry":
            self.typed = str(value or "")
            no = normalise_tracking(self.typed)
            if no is None:
                self.error = self.t("invalid.tracking")
                return
            self.error = ""
            self._open(no)
        elif self.step == "identity" and self.identity.on_submit(value, identity_today(self)):
            self._find(self.identity.id_number)

    def on_choose(self, key: str) -> None:
        if self.step == "list":
            self._open(key)
        elif self.step == "supplement":
            self.on_toggle(key)

    def _open(self, tracking_no: str) -> None:
        def run() -> None:
            self.application = self.s.api.application(tracking_no)
            self.step = "detail"
            self.finished = True
            self.s.say(self.t(f"status.{self.application['status']}"))
        self._attempt(run)

    def _find(self, id_number: str) -> None:
        def run() -> None:
            self.found = self.s.api.find_applications(id_number)
            if not self.found:
                self.step = "lookup"
                self.tell("info", self.t("progress.none"))
            elif len(self.found) == 1:
                self._open(self.found[0]["tracking_no"])
            else:
                self.step = "list"
        self._attempt(run)

    def go_back(self) -> bool:
        if self.step == "detail" and self.found and len(self.found) > 1:
            self.step = "list"
            return True
        if self.step in ("supplement", "collect"):
            self.step = "detail"
            return True
        if self.step in ("entry", "identity", "list", "detail"):
            self.step = "lookup"
            return True
        return False

    # -- the view ---------------------------------------------------------------------------------

    def view(self) -> View:
        if self.step == "lookup":
            listens = self.can("card", "scan")
            v = self.base_view("lookup", "identity", "progress.title",
                               prompt=self.prompt_for("progress.prompt", listens), listens=listens)
            v.actions = [Option("type_tracking", self.t("progress.type"), primary=True),
                         Option("type_id", self.t("identity.type_id"))]
            if self.s.devices.simulated.get("id_reader"):
                v.demo = [Option("demo_card", self.t("demo_card"))]
            return v
        if self.step == "entry":
            v = self.base_view("entry", "entry", "progress.title", prompt=self.t("entry.tracking"),
                               listens=self.can("scan"))
            v.entry = {"key": "tracking", "value": self.typed or "SQ", "keypad": "tracking", "error": self.error,
                       "max_len": 19}
            return v
        if self.step == "identity":
            return self.identity.view(self, "identity", "progress.title", "")
        if self.step == "supplement":
            # only the applicant hands in: a receipt's tracking number is not proof, their ID card is
            proven = bool(self.card_id)
            v = self.base_view("supplement", "checklist", "progress.title", multi=True,
                               prompt=self.t("progress.supplement_prompt" if proven else "progress.supplement_card"),
                               listens=() if proven else self.can("card"))
            if not proven and self.s.devices.simulated.get("id_reader"):
                v.demo = [Option("demo_card", self.t("demo_card"))]
            package = bool((self.application or {}).get("package"))
            for i, m in enumerate(self._missing("material")):  # a package's parts each number their own list
                key = i if package else m["index"]
                v.options.append(Option(str(key), pick(m.get("name"), self.s.lang), selected=key in self.handing_in))
            if self._missing("field"):
                v.result = {"fields": self.t("progress.supplement_fields")}
            v.actions = [Option("hand_in", self.t("progress.supplement"), primary=True,
                                enabled=bool(self.handing_in) and proven)]
            return v
        if self.step == "collect":  # 领取结果 opened by the receipt: the applicant's ID card proves it is theirs
            v = self.base_view("collect", "identity", "progress.title", prompt=self.t("progress.collect_card"),
                               listens=self.can("card"))
            v.result = {"why": self.t("progress.collect_why")}
            if self.s.devices.simulated.get("id_reader"):
                v.demo = [Option("demo_card", self.t("demo_card"))]
            return v
        if self.step == "collected" and self.ticket is not None:
            from kiosk.presenters.take_number import ticket_view

            return ticket_view(self, "progress.title", self.ticket, self.where, self.print_problem)
        if self.step == "list":
            v = self.base_view("list", "choose", "progress.title", prompt=self.t("progress.list"))
            for a in self.found:
                v.options.append(Option(a["tracking_no"], self.s.pick(a.get("item_name")),
                                        detail=f"{a['tracking_no']} · {when(a.get('submitted_at'))}",
                                        badge=self.t(f"status.{a['status']}")))
            return v
        return self._detail()

    def _detail(self) -> View:
        a = self.application or {}
        lang = self.s.lang
        v = self.base_view("detail", "info", "progress.title", prompt=self.s.pick(a.get("item_name")))
        head = [f"{a.get('tracking_no', '')}", self.t(f"status.{a['status']}") if a.get("status") else ""]
        head.append(promised_words(self.t, a))
        v.sections = [Section(self.t("apply.tracking"), [x for x in head if x])]
        routed = a.get("routed")
        if routed:  # taken here for another hall (就近办): its state, its progress there, and since when
            target = pick(routed.get("target_name"), lang) or routed.get("target", "")
            say = [pick(routed.get("state_name"), lang)]
            if routed.get("ready"):
                say.append(self.t("routing.ready"))
            if routed.get("as_of"):
                say.append(self.t("routing.stale" if routed.get("stale") else "routing.as_of", time=when(routed["as_of"])))
            v.sections.append(Section(self.t("routing.handled_by", target=target), [x for x in say if x]))
        correction = a.get("correction") or {}
        if correction.get("missing"):
            names = "、".join(pick(m.get("name"), lang) for m in correction["missing"])
            v.sections.append(Section(self.t("status.correction"), [self.t("progress.missing", list=names)]))
        timeline = []
        for e in a.get("timeline", []):
            name = pick(e.get("status_name"), lang) or self.t(f"status.{e['status']}")
            note = pick(e.get("note"), lang) if e.get("note") else ""
            timeline.append(f"{when(e.get('at'))}  {name}" + (f"：{note}" if note else ""))
        if a.get("parts"):  # 一件事: each department's part, its result as soon as it is ready
            v.sections.append(Section(self.t("progress.parts"), [
                f"{self.s.pick(p.get('item_name'))}（{p.get('department', '')}）：{self.t('status.' + p['status'])}"
                for p in a["parts"]]))
        v.sections.append(Section(self.t("progress.timeline"), timeline))
        if a.get("overdue"):
            self.tell("warn", self.t("progress.overdue"))
            v.notice = self.notice
        v.actions = [Option("done", self.t("done"), primary=True)]
        if _ready_on_site(a) and not routed:  # a routed result is handed over at this station's desk
            v.actions.insert(0, Option("collect", self.t("progress.collect"), primary=True))
        if a.get("status") == "correction" and self._missing("material") and not routed:
            v.actions.insert(0, Option("supplement", self.t("progress.supplement"), primary=True))
        return v


def _ready_on_site(a: dict[str, Any]) -> bool:
    """Whether a result of this application (or of a package's part) waits at the 出件 window to be collected."""
    cases = a.get("parts") or [a]
    return any(c.get("status") == "result_ready" and c.get("delivery") == "onsite" for c in cases)


def _zh(name: Any) -> Any:
    """A material's name as the package lists it: its Simplified Chinese when given in several languages."""
    return name.get("zh-Hans") if isinstance(name, dict) else name
