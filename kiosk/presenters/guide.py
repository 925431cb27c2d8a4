"""Service guides (办事指南): every item's conditions, materials, time limits, fees, basis, contacts.

The guide elements are those of seed 002 §二 (服务对象、受理条件、申请材料、
收费标准及依据、办理时限、实施部门、联系方式、是否网办). "Tell everything once"
(一次性告知, seeds 000 §8 and 002): the full list of materials prints on one
slip. Guides come from the server and are kept, so they can still be read
while the network is down.

Finding an item (事项检索): 搜索事项 on the first step opens a one-field form; what the resident types on
the on-screen keyboard (社保 in pinyin mode, or the initials ``yl`` straight on its ABC page) is sent with
确定 and searched on the server (``GET /items?q=``: names, keywords, pinyin, materials), the items found
listed best first. While the server cannot be reached, the kept items are searched by name instead.

一件事 (高效办成一件事): the first step lists, before the categories, a 一件事 entry naming how many packages
the hall has; it opens the list of packages, and a package opens its combined guide (一次告知: the items with
their departments and time limits, every material once, the conditions), printed like an item's notice and
leading to the application (the same package at the start of 办事申请). Packages and their guides are kept
like the items, so they can still be read while the network is down.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hallq.client import Unreachable
from kiosk import receipts
from kiosk.presenters.base import Field, Flow, Option, Section, View

STEPS = ["business", "item", "guide"]
PACKAGE_STEPS = ["business", "packages", "package"]
PACKAGES = "__packages__"  # the first step's 一件事 entry
PACKAGE = "pkg:"  # an option key that names a package (as in the application flow)
MAX_QUERY = 50  # the server's limit (GET /items?q=)


class Guide(Flow):
    name = "guide"

    def reset(self) -> None:
        self.business: str | None = None
        self.item: dict[str, Any] | None = None
        self.stale = False
        self._preset: str | None = None
        self.query = ""
        self.found: list[dict[str, Any]] | None = None  # the items of the last search; None: not searching
        self.search_from = "business"
        self.packages: list[dict[str, Any]] = []
        self.package: dict[str, Any] | None = None  # the chosen package's combined guide
        super().reset()

    def first_step(self) -> str:
        return "business"

    def start(self, item: str | None = None, **_: Any) -> None:
        self.reset()
        self._preset = item
        self._attempt(self._load)

    def _load(self) -> None:
        self.s.hall()
        _, stale_b = self.s.businesses()
        _, stale_i = self.s.items()
        self.packages, stale_p = self.s.cached("packages", self.s.api.packages, max_age=300)
        self.stale = stale_b or stale_i or stale_p
        if self._preset:
            self.on_choose(self._preset, direct=True)

    def _items(self) -> list[dict[str, Any]]:
        entry = self.s.cache.get("items")
        return entry[0] if entry else []

    def _businesses(self) -> list[dict[str, Any]]:
        entry = self.s.cache.get("businesses")
        return entry[0] if entry else []

    def on_field(self, arg: tuple[str, Any]) -> None:
        key, value = arg
        if key == "q":
            self.query = str(value or "").strip()[:MAX_QUERY]
            if self.step == "search" and self.query:  # 确定 on the keyboard: search at once
                self._attempt(self._find)

    def _find(self) -> None:
        try:
            self.found = self.s.api.search_items(self.query)
        except Unreachable:
            self.found = self._find_kept(self.query)
            self.tell("warn", self.t("offline_cached"))
        if not self.found:
            self.tell("info", self.t("guide.search_none", q=self.query))
            return
        self.step = "found"

    def _find_kept(self, query: str) -> list[dict[str, Any]]:
        """The kept items whose name or keywords contain every word of ``query`` (no pinyin offline)."""
        words = query.lower().split()
        out = []
        for it in self._items():
            text = " ".join([*(str(n) for n in it["name"].values()),
                             *(str(k) for k in it.get("guide", {}).get("keywords", []))]).lower()
            if all(w in text for w in words):
                out.append(it)
        return out

    def on_choose(self, key: str, direct: bool = False) -> None:
        if self.step == "business" and key == PACKAGES:
            self.step = "packages"
            return
        if self.step == "packages" and key.startswith(PACKAGE):
            self._attempt(lambda: self._load_package(key[len(PACKAGE):]))
            return
        if self.step == "business" and not direct:
            self.business = key
            self.step = "item"
            return
        kept = self.found if self.step == "found" and self.found else []
        item = next((i for i in [*kept, *self._items()] if i["code"] == key), None)
        if item is not None:
            self.item = item
            self.business = item["business"]
            self.step = "guide"
            self.s.say(self.s.pick(item["name"]))

    def _load_package(self, code: str) -> None:
        guide, stale = self.s.cached(f"package:{code}", lambda: self.s.api.package(code), max_age=300)
        self.package, self.stale = guide, self.stale or stale
        self.step = "package"
        self.s.say(self.s.pick(guide["name"]))

    def _printed_at(self) -> str:
        """Now in the hall, as the server last said (a demo may run on a virtual clock); the kiosk's own
        time only while the server has not been reached."""
        entry = self.s.cache.get("hall")
        now = ((entry[0] if entry else {}).get("clock") or {}).get("now")
        return f"{now[:10]} {now[11:16]}" if now else datetime.now().astimezone().strftime("%Y-%m-%d %H:%M")

    def on_action(self, key: str) -> None:
        if key == "search" and self.step in ("business", "item", "found"):
            if self.step != "found":
                self.search_from = self.step  # where 返回 leads from the search
            self.step, self.found = "search", None
            return
        if key == "find" and self.step == "search":
            if self.query:
                self._attempt(self._find)
            else:
                self.tell("info", self.t("guide.search_hint"))
            return
        if self.step == "package" and self.package is not None:
            self._package_action(key)
            return
        if self.step != "guide" or self.item is None:
            return
        code = self.item["code"]
        if key == "print_notice":
            item = self.item
            self.print_notice(lambda: receipts.one_time_notice(self.s.devices.profile, self.s.hall_name(), item,
                                                               self.s.lang, self._printed_at()))
        elif key == "take":
            self.go("take_number", business=self.item["business"], item=code)
        elif key == "book":
            self.go("book", item=code)
        elif key == "apply":
            self.go("apply", item=code)

    def _package_action(self, key: str) -> None:
        g = self.package or {}
        if key == "print_notice":
            self.print_notice(lambda: receipts.package_notice(self.s.devices.profile, self.s.hall_name(), g,
                                                              self.s.lang, self._printed_at()))
        elif key == "apply":
            self.go("apply", item=PACKAGE + g["package"])

    def go_back(self) -> bool:
        if self.step == "package":
            self.step, self.package = "packages", None
            return True
        if self.step == "packages":
            self.step = "business"
            return True
        if self.step == "guide":
            self.step, self.item = ("found" if self.found else "item"), None
            return True
        if self.step == "found":
            self.step = "search"
            return True
        if self.step == "search":
            self.step, self.found = self.search_from, None
            if self.step == "business":
                self.business = None
            return True
        if self.step == "item":
            self.step, self.business = "business", None
            return True
        return False

    def view(self) -> View:
        n, total = self.step_of(STEPS)
        if self.step == "business":
            v = self.base_view("business", "choose", "guide.title", prompt=self.t("guide.business"),
                               step_no=n, step_count=total)
            if self.packages:
                v.options.append(Option(PACKAGES, self.t("guide.packages"), detail=self.t("guide.packages_detail"),
                                        badge=str(len(self.packages))))
            counts: dict[str, int] = {}
            for it in self._items():
                counts[it["business"]] = counts.get(it["business"], 0) + 1
            for b in self._businesses():
                v.options.append(Option(b["code"], self.s.pick(b["name"]), badge=str(counts.get(b["code"], 0))))
            v.actions = [Option("search", self.t("guide.search"))]
        elif self.step == "search":
            v = self.base_view("search", "form", "guide.title", prompt=self.t("guide.search_prompt"))
            v.fields = [Field("q", self.t("guide.search_field"), value=self.query, hint=self.t("guide.search_hint"),
                              max_len=MAX_QUERY)]
            v.actions = [Option("find", self.t("guide.find"), primary=True)]
        elif self.step == "found":
            v = self.base_view("found", "choose", "guide.title",
                               prompt=self.t("guide.found", n=len(self.found or []), q=self.query))
            for it in self.found or []:
                g = it.get("guide", {})
                v.options.append(Option(it["code"], self.s.pick(it["name"]), detail=g.get("department", "")))
            v.actions = [Option("search", self.t("guide.search_again"))]
        elif self.step == "packages":
            n, total = self.step_of(PACKAGE_STEPS)
            v = self.base_view("packages", "choose", "guide.title", prompt=self.t("guide.package_list"), step_no=n,
                               step_count=total)
            v.options = [Option(PACKAGE + p["package"], self.s.pick(p["name"]),
                                detail=self.t("apply.package_detail", n=p["items"])) for p in self.packages]
        elif self.step == "package":
            n, total = self.step_of(PACKAGE_STEPS)
            v = self.base_view("package", "info", "guide.title", prompt=self.s.pick((self.package or {})["name"]),
                               step_no=n, step_count=total)
            v.sections = package_sections(self, self.package or {})
            v.actions = [Option("print_notice", self.t("guide.print_notice"), primary=True),
                         Option("apply", self.t("guide.apply"))]
        elif self.step == "item":
            v = self.base_view("item", "choose", "guide.title", prompt=self.t("guide.item"), step_no=n,
                               step_count=total)
            for it in self._items():
                if it["business"] == self.business:
                    g = it.get("guide", {})
                    v.options.append(Option(it["code"], self.s.pick(it["name"]),
                                            detail=" · ".join(x for x in (g.get("category", ""), g.get("online", "")) if x)))
            v.actions = [Option("search", self.t("guide.search"))]
        else:
            v = self._guide_view(n, total)
        if self.stale and v.notice is None:
            self.tell("warn", self.t("offline_cached"))
            v.notice = self.notice
        return v

    def _guide_view(self, n: int, total: int) -> View:
        it: dict[str, Any] = self.item or {}  # the guide step has an item
        g = it.get("guide", {})
        t = self.t
        v = self.base_view("guide", "info", "guide.title", prompt=self.s.pick(it["name"]), step_no=n, step_count=total)
        if self.s.lang == "en":
            v.prompt += " " + t("guide.chinese_only")
        sections = []
        if g.get("recipients"):
            sections.append(Section(t("guide.recipients"), [g["recipients"]]))
        if g.get("conditions"):
            sections.append(Section(t("guide.conditions"), [f"{i}．{c}" for i, c in enumerate(g["conditions"], 1)]))
        mats = []
        for i, m in enumerate(g.get("materials", []), 1):
            need = t("guide.required") if m.get("required", True) else t("guide.optional")
            line = f"{i}．{m['name']}（{t('guide.copies', form=m.get('form', ''), n=m.get('copies', 1))}，{need}）"
            mats.append(line + (f"：{m['note']}" if m.get("note") else ""))
        if mats:
            sections.append(Section(t("guide.materials"), mats))
        limits = receipts.time_limit_lines(g, self.s.lang)
        if limits:
            sections.append(Section(t("guide.time"), limits))
        if g.get("fee"):
            sections.append(Section(t("guide.fee"), [g["fee"]]))
        if g.get("basis"):
            sections.append(Section(t("guide.basis"), list(g["basis"])))
        way = [g["online"]] if g.get("online") else []
        if g.get("max_visits") is not None:
            way.append(t("guide.visits0") if g["max_visits"] == 0 else t("guide.visits", n=g["max_visits"]))
        if way:
            sections.append(Section(t("guide.way"), way))
        if g.get("department") or g.get("contact"):
            sections.append(Section(t("guide.contact"), [" ".join(x for x in (g.get("department"), g.get("contact")) if x)]))
        v.sections = sections
        v.actions = [Option("print_notice", t("guide.print_notice"), primary=True),
                     Option("take", t("guide.take"))]
        if g.get("appointment"):
            v.actions.append(Option("book", t("guide.book")))
        if g.get("form"):
            v.actions.append(Option("apply", t("guide.apply")))
        return v


def package_sections(flow: Flow, g: dict[str, Any]) -> list[Section]:
    """一件事的一次告知 on the screen: each item with its department and time limits, every material once, the
    conditions (the guide flow's 一件事 and the application flow's first step show the same)."""
    t, lang = flow.t, flow.s.lang
    items = []
    for it in g.get("items", []):
        limit = "、".join(receipts.time_limit_lines(it, lang))
        items.append(f"{flow.s.pick(it['item_name'])}（{it['department']}）" + (f"：{limit}" if limit else ""))
    sections = [Section(t("apply.package_items"), items)]
    sections.append(Section(t("guide.materials"), [
        f"{m['name']}（{t('guide.copies', form=m['form'], n=m['copies'])}，"
        f"{t('guide.required') if m['required'] else t('guide.optional')}）" for m in g.get("materials", [])]))
    if g.get("conditions"):
        sections.append(Section(t("guide.conditions"), list(g["conditions"])))
    return sections
