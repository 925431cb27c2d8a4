"""The screens: they draw a presenter's View and send the resident's taps back as events.

Nothing here decides anything: what to show comes from ``View``, what a tap
means is the presenter's business (kiosk.presenters). Layouts are in
kv/home.kv, kv/flow.kv and kv/steps/<kind>.kv.
"""

from __future__ import annotations

from kivy.app import App
from kivy.clock import Clock
from kivy.metrics import dp
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen
from kivy.uix.widget import Widget

from kiosk.ime import Composer, preload
from kiosk.presenters.base import Option, View
from kiosk.texts import tr
from kiosk.ui.keyboard import TextKeyboard
from kiosk.ui.widgets import KButton, KLabel, Keypad, KTextInput, Tile

UNSELECTED_MARK = "□  "


def _button(opt: Option, on_press, role: str | None = None) -> KButton:
    b = KButton(text=(("✓ " if opt.selected else "") + opt.label), key=opt.key,
                role=role or ("selected" if opt.selected else "primary" if opt.primary else "normal"))
    if not opt.enabled:
        b.role = "disabled"
    b.bind(on_release=lambda btn: on_press(btn.key))
    return b


class KioskScreen(Screen):
    flow_name = StringProperty("")

    @property
    def app(self):
        return App.get_running_app()

    def send(self, event: str, arg=None) -> None:
        self.app.send(self.flow_name, event, arg)

    def render(self, view: View) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _notice(self, view: View) -> None:
        bar = self.ids.notice
        bar.level = view.notice.level if view.notice else "info"
        bar.text = view.notice.full if view.notice else ""

    def _footer(self, view: View, lang: str) -> None:
        footer = self.ids.footer
        footer.clear_widgets()
        if self.flow_name == "home":
            return
        if view.back:
            footer.add_widget(_button(Option("back", "← " + tr("back", lang)), lambda k: self.send("back")))
        footer.add_widget(_button(Option("home", tr("home", lang)), lambda k: self.app.go_home()))
        footer.add_widget(_button(Option("help", tr("home.help", lang), primary=True), lambda k: self.app.open("help")))


class HomeScreen(KioskScreen):
    def render(self, view: View) -> None:
        app = self.app
        portrait = app.layout == "portrait"
        elderly = app.session.elderly
        self.ids.header.title = view.title
        self.ids.header.step = view.result.get("now", "")
        self.ids.welcome.text = view.prompt
        self.ids.status.text = "   ".join(view.result.get("status", []))
        self._notice(view)
        hero, grid, area = self.ids.hero, self.ids.tiles, self.ids.area
        hero.clear_widgets()
        grid.clear_widgets()
        area.orientation = "vertical" if portrait else "horizontal"
        grid.cols = 2
        if portrait:
            # fixed, generous heights; whatever is left stays empty below
            hero.size_hint = (1, None)
            grid.size_hint = (1, None)
            grid.bind(minimum_height=grid.setter("height"))
            self.ids.filler.size_hint = (1, 1)
        else:
            self.ids.filler.size_hint = (None, None)
            self.ids.filler.size = (0, 0)
            # landscape: "take a number" is the left third, the rest fills a 2-column grid
            hero.size_hint = (0.36, 1)
            grid.size_hint = (0.64, 1)
        for opt in view.options:
            t = Tile(text=opt.label, detail=opt.detail, key=opt.key, primary=opt.primary)
            t.bind(on_release=lambda tile: self.send("choose", tile.key))
            if opt.primary and not hero.children:
                t.scale = 2.4 if portrait else 2.0
                hero.add_widget(t)
                if portrait:
                    hero.height = t.height
                    t.bind(height=hero.setter("height"))
                else:
                    t.size_hint_y = 1
            else:
                t.scale = (2.1 if portrait else 1.0) if not elderly else (1.7 if portrait else 1.0)
                if not portrait:
                    t.size_hint_y = 1
                grid.add_widget(t)
        settings = self.ids.settings
        settings.clear_widgets()
        footer = self.ids.footer
        footer.clear_widgets()
        for a in view.actions:
            b = _button(a, lambda k: self.send("action", k))
            if a.key.startswith("lang:"):
                b.size_role = "body_sp"
            (footer if a.key == "help" else settings).add_widget(b)


class FlowScreen(KioskScreen):
    """One task screen; the body is rebuilt from each View by its kind.

    A form drawn again for the same step (a card read, a retry) keeps what was being typed in it
    (:meth:`FormStep.carry`); once the screen is left, nothing of it is carried: the next time it is
    shown may be the next resident's visit.
    """

    def on_pre_leave(self, *args) -> None:       # dispatched at once, not after the transition
        self._drawn = None

    def render(self, view: View) -> None:
        app = self.app
        lang = app.session.lang
        header = self.ids.header
        header.title = view.title
        header.step = tr("step", lang, n=view.step_no, total=view.step_count) if view.step_no and view.step_count > 2 \
            and view.kind != "result" else ""
        self._notice(view)
        row = self.ids.retry_row
        row.clear_widgets()
        row.height = 0
        if view.retry_in:
            b = _button(Option("retry", tr("retry_now", lang)), lambda k: self.send("retry"))
            row.add_widget(b)
            row.height = b.height + dp(12)
        body = self.ids.body
        old = body.children[0] if body.children else None
        carried = old.carry() if isinstance(old, FormStep) and getattr(self, "_drawn", None) == (view.flow, view.step) \
            else None
        self._drawn = (view.flow, view.step)
        body.clear_widgets()
        builder = {"choose": ChooseStep, "checklist": ChooseStep, "identity": IdentityStep, "entry": EntryStep,
                   "form": FormStep, "info": InfoStep, "result": ResultStep}.get(view.kind, InfoStep)
        two_columns = app.layout == "landscape" and view.kind in ("identity", "entry", "form", "result", "info")
        step = builder(orientation="horizontal" if two_columns else "vertical")
        step.fill(self, view)
        body.add_widget(step)
        if carried:
            step.restore(carried)
        self._footer(view, lang)


def _grouped(value: str, kind: str) -> str:
    """ID numbers as 6 8 4 and phones as 3 4 4, so they can be checked at a glance."""
    v = value.replace(" ", "")
    if kind in ("id", "id_number") and v:
        return " ".join(p for p in (v[:6], v[6:14], v[14:]) if p)
    if kind in ("digits", "phone") and len(v) > 3 and v.startswith("1"):
        return " ".join(p for p in (v[:3], v[3:7], v[7:]) if p)
    return v


def _actions(grid, screen: FlowScreen, view: View, extra: list[Option] | None = None) -> None:
    grid.clear_widgets()
    for a in list(view.actions) + list(extra or []):
        grid.add_widget(_button(a, lambda k: screen.send("action", k)))
    for d in view.demo:
        b = _button(d, lambda k: screen.send("action", k))
        b.size_role = "body_sp"
        grid.add_widget(b)


class ChooseStep(BoxLayout):
    def fill(self, screen: FlowScreen, view: View) -> None:
        app = screen.app
        lang = app.session.lang
        landscape = app.layout == "landscape"
        self.ids.prompt.text = view.prompt
        self.ids.context.text = "  ·  ".join(str(v) for k, v in view.result.items() if isinstance(v, str) and v)
        grid, pinned = self.ids.options, self.ids.pinned
        grid.cols = 2 if landscape else 1
        event = "toggle" if view.multi else "choose"
        for opt in view.options:
            mark = (tr("option.selected", lang) if opt.selected else UNSELECTED_MARK) if view.multi else ""
            t = Tile(text=opt.label, detail=opt.detail, badge=opt.badge, key=opt.key, selected=opt.selected,
                     enabled=opt.enabled, primary=opt.primary, mark=mark)
            t.bind(on_release=lambda tile: screen.send(event, tile.key))
            (pinned if opt.pinned else grid).add_widget(t)
        # a strong reference: ids are weak proxies, and once removed from its parent the grid could be collected
        # before it is added to the side column (the full layout matrix caught a ReferenceError)
        actions = self.ids.actions.__self__
        if landscape:   # the prompt and the actions in a column on the left: the list gets the whole height
            self.orientation = "horizontal"
            side = self.ids.side
            side.size_hint = (0.34, 1)
            self.ids.main.size_hint_x = 0.66
            self.ids.main.remove_widget(actions)
            side.add_widget(Widget())
            side.add_widget(actions)
            actions.cols = 1
        else:
            actions.cols = 1 if app.session.elderly else 2
        _actions(actions, screen, view)
        for w in (self.ids.main, grid, pinned, actions):
            w.bind(height=self.fit_rows)
        self.fit_rows()

    def fit_rows(self, *_) -> None:
        """The list as tall as the whole rows that fit, the rest of the space left empty below: a tile cut at the
        list's edge reads as the end of the list ("不确定可选最后一项" then seems missing). The scroll bar,
        always drawn, says that there is more."""
        main, scroll, grid = self.ids.main, self.ids.scroll.__self__, self.ids.options   # ids are weak proxies
        below = self.ids.below.__self__
        gap = main.spacing
        others = [c for c in main.children if c is not scroll and c is not below]
        room = main.height - sum(c.height for c in others) - gap * len(others)
        tiles = list(reversed(grid.children))
        rows = [max(t.height for t in tiles[i:i + grid.cols]) for i in range(0, len(tiles), grid.cols)]
        used = 0.0
        for i, h in enumerate(rows):
            step = h + (grid.spacing[1] if i else 0)
            if used + step > room:
                break
            used += step
        if not rows or used == 0:
            used = max(room, 0)
        scroll.size_hint_y = None
        scroll.height = used
        below.height = max(room - used - gap, 0)


class IdentityStep(BoxLayout):
    def fill(self, screen: FlowScreen, view: View) -> None:
        lang = screen.app.session.lang
        self.ids.prompt.text = view.prompt
        self.ids.why.text = view.result.get("why", "")
        listens = set(view.listens)
        if "card" in listens and "scan" in listens:
            title = tr("reader.card_or_scan", lang)
        elif "card" in listens:
            title = tr("reader.card", lang)
        elif "scan" in listens:
            title = tr("reader.scan", lang)
        else:
            title = ""
        self.ids.panel_title.text = title
        self.ids.panel_hint.text = tr("reader.below", lang) if title else ""
        if not title:
            self.ids.reader_panel.opacity = 0
        _actions(self.ids.actions, screen, view)


class EntryStep(BoxLayout):
    has_error = BooleanProperty(False)

    def fill(self, screen: FlowScreen, view: View) -> None:
        e = view.entry
        lang = screen.app.session.lang
        self.ids.prompt.text = view.prompt
        self.ids.why.text = e.get("why", "")
        error = e.get("error", "")
        self.has_error = bool(error)
        self.ids.error.text = (tr("error_prefix", lang) + error) if error else ""
        pad: Keypad = self.ids.keypad
        pad.layout = e.get("keypad", "digits")
        pad.max_len = e.get("max_len", 64)
        pad.labels = _pad_labels(lang)
        pad.value = e.get("value", "")
        display = self.ids.display

        def show(*_):
            display.text = _grouped(pad.value, pad.layout) or " "
        pad.bind(value=show)
        show()
        pad.build(screen.app, lambda: screen.send("submit", pad.value))
        _actions(self.ids.actions, screen, view)


NUMBER_KINDS = ("id_number", "phone", "number")


def _pad_labels(lang: str) -> list[str]:
    """删除, 清空, 确定: the same words as on the text keyboard."""
    return [tr("kb.delete", lang), tr("kb.clear", lang), tr("identity.ok", lang)]


class FormStep(BoxLayout):
    """A form. Numbers open the keypad, text opens the on-screen keyboard with pinyin (kiosk.text_input =
    "onscreen", the default) or is a Kivy TextInput for a real keyboard or the system's IME ("system").

    What is typed on the keyboard stays here until 确定 sends it (``send_field``); a value left in an
    editor that was closed by opening another field is kept in ``pending`` and sent before anything
    else the form sends, so nothing typed is lost.
    """

    wide_editor = BooleanProperty(False)

    def fill(self, screen: FlowScreen, view: View) -> None:
        app = screen.app
        lang = app.session.lang
        self.screen = screen
        self.onscreen = app.cfg.text_input != "system"
        self.ids.prompt.text = view.prompt
        self.ids.hint.text = view.result.get("hint", "") or view.result.get("item", "")
        self.inputs: dict[str, KTextInput] = {}
        self.buttons: dict[str, KButton] = {}
        self.fields = {f.key: f for f in view.fields}
        self.pending: dict[str, str] = {}
        self.keyboard: TextKeyboard | None = None
        self.keyboard_field = None
        grid = self.ids.fields
        for f in view.fields:
            row = BoxLayout(orientation="vertical", size_hint_y=None, spacing=dp(6))
            label = KLabel(text=f.label + ("  *" + tr("field.required", lang) if f.required else ""), bold=True)
            row.add_widget(label)
            if f.kind == "select":
                opts = BoxLayout(spacing=dp(10), size_hint_y=None, height=dp(app.th["target_dp"]))

                def fit(*_, opts=opts):   # as tall as its tallest option (long ones wrap in a narrow column)
                    opts.height = max([dp(app.th["target_dp"])] + [c.height for c in opts.children])
                for o in f.options:
                    b = _button(o, lambda k, key=f.key: self.send_field(key, k))
                    b.size_role = "body_sp"
                    b.bind(height=fit)
                    opts.add_widget(b)
                row.add_widget(opts)
            elif f.kind in NUMBER_KINDS:
                b = KButton(text=_grouped(f.value, f.kind) or " ", key=f.key, role="normal", halign="left",
                            size_role="title_sp")
                b.bind(on_release=lambda btn, f=f: self.edit(f))
                row.add_widget(b)
            elif self.onscreen:
                b = KButton(key=f.key, role="normal", halign="left", size_role="action_sp")
                self.buttons[f.key] = b
                self._show_text(f.key, f.value)
                b.bind(on_release=lambda btn, f=f: self.edit_text(f))
                row.add_widget(b)
            else:
                ti = KTextInput(text=f.value, field_key=f.key, multiline=f.kind == "textarea", size_hint_y=None,
                                height=dp(app.th["target_dp"]) * (2 if f.kind == "textarea" else 1),
                                hint_text=f.hint or "")
                self.inputs[f.key] = ti
                row.add_widget(ti)
            if f.hint and (f.kind not in ("text", "textarea") or self.onscreen):
                row.add_widget(KLabel(text=f.hint, tone="muted", size_role="small_sp"))
            if f.error:
                row.add_widget(KLabel(text=tr("error_prefix", lang) + f.error, tone="error_text", bold=True))
            row.bind(minimum_height=row.setter("height"))
            grid.add_widget(row)
        if self.buttons:
            preload()                  # the pinyin data, in the background, before the first letter is typed
        self.ids.scroll.bind(height=self._top_if_fits)
        grid.bind(height=self._top_if_fits)
        grid_actions = self.ids.actions
        grid_actions.clear_widgets()
        for a in view.actions:
            grid_actions.add_widget(_button(a, self.act))
        for d in view.demo:
            b = _button(d, lambda k: screen.send("action", k))
            b.size_role = "body_sp"
            grid_actions.add_widget(b)

    def _show_text(self, key: str, value: str) -> None:
        """A text field's button: its value, or "点此输入" in the muted colour."""
        b = self.buttons.get(key)
        if b is None:
            return
        editing = self.keyboard is not None and self.keyboard_field is not None and self.keyboard_field.key == key
        b.role = "selected" if editing else "normal"
        b.on_role()
        b.text = (value + "▏") if editing else (value or tr("kb.tap_to_type", self.screen.app.session.lang))
        if not value and not editing:
            b.fg = "muted"

    def flush(self) -> None:
        """Send what was typed and not sent yet (before anything that re-draws the form)."""
        for k, ti in self.inputs.items():
            self.screen.send("field", (k, ti.text))
        self._close_keyboard()
        for k, v in list(self.pending.items()):
            self.screen.send("field", (k, v))
        self.pending.clear()

    def send_field(self, key: str, value: str) -> None:
        self.flush()
        self.screen.send("field", (key, value))

    def act(self, key: str) -> None:
        """Typed text first, then the action: all in order, in the worker."""
        self.flush()
        self.screen.send("action", key)

    def _value(self, f) -> str:
        return self.pending.get(f.key, f.value)

    def _close_keyboard(self) -> None:
        """Close the text keyboard; what it holds and was not sent stays in ``pending``."""
        kb, f = self.keyboard, self.keyboard_field
        self.keyboard = None
        self.keyboard_field = None
        self.wide_editor = False
        if kb is not None and f is not None:
            text = kb.composer.finish()
            if text != f.value:
                self.pending[f.key] = text
            elif f.key in self.pending:
                del self.pending[f.key]
            self._show_text(f.key, text)
            self.ids.editor.clear_widgets()

    def edit(self, f) -> None:
        """A number field: the keypad opens under the form; OK sends the value."""
        self._close_keyboard()
        app = self.screen.app
        lang = app.session.lang
        editor = self.ids.editor
        editor.clear_widgets()
        display = KLabel(text=_grouped(f.value, f.kind) or " ", size_role="title_sp", bold=True)
        pad = Keypad(layout="id" if f.kind == "id_number" else "digits", max_len=f.max_len or 20)
        pad.labels = _pad_labels(lang)
        pad.value = f.value
        pad.bind(value=lambda *_: setattr(display, "text", _grouped(pad.value, f.kind) or " "))

        def ok():
            self.send_field(f.key, pad.value)
        pad.build(app, ok)
        editor.add_widget(KLabel(text=f.label, bold=True))
        editor.add_widget(display)
        editor.add_widget(pad)

    def edit_text(self, f, composer: Composer | None = None) -> TextKeyboard:
        """A text field: the on-screen keyboard (拼音 / English / 123) opens under the form, or beside it in
        landscape; 确定 sends the value like the keypad's OK."""
        if self.keyboard is not None and self.keyboard_field is not None and self.keyboard_field.key == f.key:
            return self.keyboard
        self._close_keyboard()
        app = self.screen.app
        lang = app.session.lang
        th = app.th
        editor = self.ids.editor
        editor.clear_widgets()
        if composer is None:     # pinyin first, but English letters for an English-speaking resident, digits for a
            digits = f.kind == "date" or f.digits_only   # date or a field whose pattern allows only digits
            composer = Composer(self._value(f), max_len=f.max_len or (10 if f.kind == "date" else 200),
                                mode="en" if digits or lang == "en" else "zh")
            composer.symbols = digits
        landscape = app.layout == "landscape"
        key_h = dp(th["target_dp"]) * (0.75 if landscape else 1.0)

        def ok(value: str) -> None:
            self.keyboard = None            # sent now: nothing left to carry or keep
            self.keyboard_field = None
            self.pending.pop(f.key, None)
            self.send_field(f.key, value)
        kb = TextKeyboard(composer, th, lang, ok, title=f.label, key_height=key_h,
                          hint=tr("kb.hint.date", lang) if f.kind == "date" else "",
                          on_change=lambda text: self._show_text(f.key, text))
        self.keyboard = kb
        self.keyboard_field = f
        self.wide_editor = landscape
        editor.add_widget(kb)
        self._show_text(f.key, composer.text)
        b = self.buttons.get(f.key)
        if b is not None:
            Clock.schedule_once(lambda dt: self._scroll_to(b), 0)
        return kb

    def _scroll_to(self, widget) -> None:
        """The field being typed in stays in sight above the keyboard."""
        sv = self.ids.scroll
        if self.ids.fields.height > sv.height:
            sv.scroll_to(widget, padding=dp(10), animate=False)
            # Kivy may leave scroll_y just past an end (-0.01): the form would then spring back under
            # a resident's next tap and lose it (a ScrollView releases a tap 0.2 s later). Stay in bounds.
            sv.scroll_y = min(1.0, max(0.0, sv.scroll_y))
        self._top_if_fits()

    def _top_if_fits(self, *_) -> None:
        """A form shorter than its space starts at the top (Kivy would otherwise keep it where it was scrolled)."""
        if self.ids.fields.height <= self.ids.scroll.height:
            self.ids.scroll.scroll_y = 1

    def carry(self) -> dict | None:
        """What must survive the form being drawn again (a card read, a retry): the open keyboard, pending values."""
        if self.keyboard is None and not self.pending:
            return None
        return {"pending": dict(self.pending), "values": {k: f.value for k, f in self.fields.items()},
                "keyboard": (self.keyboard_field.key, self.keyboard.composer) if self.keyboard is not None else None}

    def restore(self, carried: dict) -> None:
        """Only for fields the presenter did not change meanwhile (a card read fills the name: the card wins)."""
        def same(k: str) -> bool:
            return k in self.fields and k in self.buttons and self.fields[k].value == carried["values"].get(k)
        for k, v in carried.get("pending", {}).items():
            if same(k):
                self.pending[k] = v
                self._show_text(k, v)
        kb = carried.get("keyboard")
        if kb and same(kb[0]):
            self.edit_text(self.fields[kb[0]], composer=kb[1])


class InfoStep(BoxLayout):
    def fill(self, screen: FlowScreen, view: View) -> None:
        app = screen.app
        self.ids.prompt.text = view.prompt
        grid = self.ids.sections
        for s in view.sections:
            grid.add_widget(KLabel(text=s.title, bold=True, tone="primary", size_role="action_sp"))
            for line in s.lines:
                grid.add_widget(KLabel(text=line))
            grid.add_widget(Label(size_hint_y=None, height=dp(12)))
        self.ids.actions.cols = 1 if app.session.elderly or len(view.actions) == 1 or \
            self.orientation == "horizontal" else 2
        _actions(self.ids.actions, screen, view)


class ResultStep(BoxLayout):
    def fill(self, screen: FlowScreen, view: View) -> None:
        r = view.result
        self.ids.label.text = r.get("label", "")
        self.ids.number.text = r.get("number", "")
        self.ids.title.text = r.get("title", "")
        for line in r.get("lines", []):
            if line:
                self.ids.lines.add_widget(KLabel(text=line, halign="center", size_role="action_sp"))
        self.ids.qr.data = r.get("qr", "")
        self.ids.qr_hint.text = r.get("qr_hint", "") if r.get("qr") else ""
        _actions(self.ids.actions, screen, view)
