"""The screens: they draw a presenter's View and send the resident's taps back as events.

Nothing here decides anything: what to show comes from ``View``, what a tap
means is the presenter's business (kiosk.presenters). Layouts are in
kv/home.kv, kv/flow.kv and kv/steps/<kind>.kv.
"""

from __future__ import annotations

from dataclasses import astuple

from kivy.app import App
from kivy.metrics import dp
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen
from kivy.uix.widget import Widget

from kiosk.presenters.base import Option, View
from kiosk.texts import tr
from kiosk.ui.form_step import FormStep, grouped, pad_labels
from kiosk.ui.widgets import KLabel, Keypad, Tile, option_button

UNSELECTED_MARK = "□  "


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
            footer.add_widget(option_button(Option("back", "← " + tr("back", lang)), lambda k: self.send("back")))
        footer.add_widget(option_button(Option("home", tr("home", lang)), lambda k: self.app.go_home()))
        footer.add_widget(option_button(Option("help", tr("home.help", lang), primary=True), lambda k: self.app.open("help")))


class HomeScreen(KioskScreen):
    """The home screen. Its timer asks the server again every 10 s (``Home.refresh_seconds``) and the view comes
    back with the same tiles and buttons and a new clock or status line: only those texts change then. Building
    the tiles and buttons anew each time made some 20 widgets and their label textures every 10 s on an idle
    kiosk, and grew its heap by about 19 MB in 15 minutes (docs/performance.md, the village station)."""

    built = None       # what the tiles and buttons were last built from (options, actions, layout, text size)

    def render(self, view: View) -> None:
        app = self.app
        portrait = app.layout == "portrait"
        elderly = app.session.elderly
        self.ids.header.title = view.title
        self.ids.header.step = view.result.get("now", "")
        self.ids.welcome.text = view.prompt
        self.ids.status.text = "   ".join(view.result.get("status", []))
        self._notice(view)
        built = (tuple(map(astuple, view.options)), tuple(map(astuple, view.actions)), portrait, elderly)
        if built == self.built:
            return
        self.built = built
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
            b = option_button(a, lambda k: self.send("action", k))
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
            b = option_button(Option("retry", tr("retry_now", lang)), lambda k: self.send("retry"))
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


def _actions(grid, screen: FlowScreen, view: View, extra: list[Option] | None = None) -> None:
    grid.clear_widgets()
    for a in list(view.actions) + list(extra or []):
        grid.add_widget(option_button(a, lambda k: screen.send("action", k)))
    for d in view.demo:
        b = option_button(d, lambda k: screen.send("action", k))
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
        pad.labels = pad_labels(lang)
        pad.value = e.get("value", "")
        display = self.ids.display
        masked = [e.get("shown", "")]    # a refused ID number drawn masked, until the resident types (identity.py)

        def show(*_):
            if masked[0] and pad.value != e.get("value", ""):
                masked[0] = ""
            display.text = grouped(masked[0] or pad.value, pad.layout) or " "
        pad.bind(value=show)
        show()
        pad.build(screen.app, lambda: screen.send("submit", pad.value))
        _actions(self.ids.actions, screen, view)


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
