"""The form step: fields typed on the keypad, the on-screen keyboard (pinyin) or a real keyboard.

Like every step it only draws the presenter's ``View`` and sends the resident's input back through
the screen (``FlowScreen.send``); its layout is in kv/steps/form.kv. ``grouped`` and ``pad_labels``
serve the entry step's keypad too (kiosk.ui.screens).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from kivy.animation import Animation
from kivy.clock import Clock
from kivy.metrics import dp
from kivy.properties import BooleanProperty
from kivy.uix.boxlayout import BoxLayout

from kiosk.ime import Composer, preload
from kiosk.presenters.base import View
from kiosk.texts import tr
from kiosk.ui.keyboard import TextKeyboard
from kiosk.ui.widgets import KButton, KLabel, Keypad, KTextInput, option_button

if TYPE_CHECKING:
    from kiosk.ui.screens import FlowScreen

NUMBER_KINDS = ("id_number", "phone", "number")


def pad_labels(lang: str) -> list[str]:
    """删除, 清空, 确定: the same words as on the text keyboard."""
    return [tr("kb.delete", lang), tr("kb.clear", lang), tr("identity.ok", lang)]


def grouped(value: str, kind: str) -> str:
    """ID numbers as 6 8 4 and phones as 3 4 4, so they can be checked at a glance."""
    v = value.replace(" ", "")
    if kind in ("id", "id_number") and v:
        return " ".join(p for p in (v[:6], v[6:14], v[14:]) if p)
    if kind in ("digits", "phone") and len(v) > 3 and v.startswith("1"):
        return " ".join(p for p in (v[:3], v[3:7], v[7:]) if p)
    return v


class FormStep(BoxLayout):
    """A form. Numbers open the keypad, text opens the on-screen keyboard with pinyin (kiosk.text_input =
    "onscreen", the default) or is a Kivy TextInput for a real keyboard or the system's IME ("system").

    What is typed on the keyboard stays here until 确定 sends it (``send_field``); a value left in an
    editor that was closed by opening another field is kept in ``pending`` and sent before anything
    else the form sends, so nothing typed is lost.

    A value read from the ID card (``Field.from_card``) comes as its mask and is drawn so, with a line saying it
    was read from the card. It is not edited: a tap on its box opens the keyboard or keypad empty, to type the
    value afresh, and the card's value stays until what was typed is sent (``card_shown``: the masks by key).
    """

    wide_editor = BooleanProperty(False)
    _focus_key: str | None = None     # the field a keyboard or keypad is open on: kept in sight above it
    _bar_room = 0.0
    _fitted_key_height: float | None = None    # landscape: the keys as low as the column needed (not redrawn twice)
    _settling = None                           # the check for the end of a finger's scroll, while it runs

    def fill(self, screen: FlowScreen, view: View) -> None:
        app = screen.app
        lang = app.session.lang
        self.screen = screen
        self.onscreen = app.cfg.text_input != "system"
        self.ids.prompt.text = view.prompt
        self.ids.hint.text = view.result.get("hint", "") or view.result.get("item", "")
        self.inputs: dict[str, KTextInput] = {}
        self.buttons: dict[str, KButton] = {}
        self.fields = {}
        self.card_shown: dict[str, str] = {}
        self.pending: dict[str, str] = {}
        self.keyboard: TextKeyboard | None = None
        self.keyboard_field = None
        grid = self.ids.fields
        for f in view.fields:
            if f.from_card:            # its mask is shown; typing starts from an empty box
                self.card_shown[f.key] = grouped(f.value, f.kind) if f.kind in NUMBER_KINDS else f.value
                f = replace(f, value="")
            self.fields[f.key] = f
            row = BoxLayout(orientation="vertical", size_hint_y=None, spacing=dp(6))
            row.field_key = f.key      # the layout check and the tests find a field's row by its key
            label = KLabel(text=f.label + ("  *" + tr("field.required", lang) if f.required else ""), bold=True)
            row.add_widget(label)
            if f.kind == "select":
                opts = BoxLayout(spacing=dp(10), size_hint_y=None, height=dp(app.th["target_dp"]))

                def fit(*_, opts=opts):   # as tall as its tallest option (long ones wrap in a narrow column)
                    opts.height = max([dp(app.th["target_dp"])] + [c.height for c in opts.children])
                for o in f.options:
                    b = option_button(o, lambda k, key=f.key: self.send_field(key, k))
                    b.size_role = "body_sp"
                    b.bind(height=fit)
                    opts.add_widget(b)
                row.add_widget(opts)
            elif f.kind in NUMBER_KINDS:
                b = KButton(text=self.card_shown.get(f.key) or grouped(f.value, f.kind) or " ", key=f.key,
                            role="normal", halign="left", size_role="title_sp")
                b.bind(on_release=lambda btn, f=f: self.edit(f))
                row.add_widget(b)
            elif self.onscreen:
                b = KButton(key=f.key, role="normal", halign="left", size_role="action_sp")
                self.buttons[f.key] = b
                self._show_text(f.key, f.value)
                b.bind(on_release=lambda btn, f=f: self.edit_text(f))
                row.add_widget(b)
            elif f.key in self.card_shown:      # a real keyboard: a text input once the resident retypes it
                b = KButton(text=self.card_shown[f.key], key=f.key, role="normal", halign="left", size_role="action_sp")
                b.bind(on_release=lambda btn, f=f, row=row: self._retype(f, row, btn))
                row.add_widget(b)
            else:
                ti = KTextInput(text=f.value, field_key=f.key, multiline=f.kind == "textarea", size_hint_y=None,
                                height=dp(app.th["target_dp"]) * (2 if f.kind == "textarea" else 1),
                                hint_text=f.hint or "")
                self.inputs[f.key] = ti
                row.add_widget(ti)
            if f.key in self.card_shown:
                row.add_widget(KLabel(text=tr("field.from_card", lang), tone="muted", size_role="small_sp"))
            if f.hint and (f.kind not in ("text", "textarea") or self.onscreen):
                row.add_widget(KLabel(text=f.hint, tone="muted", size_role="small_sp"))
            if f.error:
                row.add_widget(KLabel(text=tr("error_prefix", lang) + f.error, tone="error_text", bold=True))
            row.bind(minimum_height=row.setter("height"))
            grid.add_widget(row)
        if self.buttons:
            preload()                  # the pinyin data, in the background, before the first letter is typed
        self._focus_key = None
        self._bar_room = self.ids.scroll.bar_width + dp(6)     # the scroll bar is drawn beside the fields, not on them
        grid.padding = [0, 0, self._bar_room, 0]
        fit = Clock.create_trigger(self._fit_editor)
        self.ids.editor.bind(height=fit)
        self.ids.actions.bind(height=fit)
        self.bind(height=fit)
        sv = self.ids.scroll
        sv.bind(height=self._refit)
        grid.bind(height=self._refit)
        sv.bind(on_scroll_stop=self._scrolled)
        sv.bar_color = sv.bar_inactive_color = app.th["border"]    # a scroll bar at rest says there is more
        grid_actions = self.ids.actions
        grid_actions.clear_widgets()
        for a in view.actions:
            grid_actions.add_widget(option_button(a, self.act))
        for d in view.demo:
            b = option_button(d, lambda k: screen.send("action", k))
            b.size_role = "body_sp"
            grid_actions.add_widget(b)

    def _show_text(self, key: str, value: str) -> None:
        """A text field's button: its value, or "点此输入" in the muted colour."""
        b = self.buttons.get(key)
        if b is None:
            return
        editing = self.keyboard is not None and self.keyboard_field is not None and self.keyboard_field.key == key
        card = self.card_shown.get(key, "")     # nothing typed over the card's value: its mask
        b.role = "selected" if editing else "normal"
        b.on_role()
        b.text = (value + "▏") if editing else (value or card or tr("kb.tap_to_type", self.screen.app.session.lang))
        if not value and not card and not editing:
            b.fg = "muted"

    def _retype(self, f, row, button) -> None:
        """A real keyboard (text_input = "system"): the mask of a value read from the card gives way to an empty
        text input; what is typed there replaces the card's value, nothing typed leaves it."""
        app = self.screen.app
        index = row.children.index(button)
        row.remove_widget(button)
        ti = KTextInput(text="", field_key=f.key, multiline=False, size_hint_y=None, height=dp(app.th["target_dp"]),
                        hint_text=f.hint or "")
        self.inputs[f.key] = ti
        row.add_widget(ti, index=index)
        ti.focus = True

    def flush(self) -> None:
        """Send what was typed and not sent yet (before anything that re-draws the form)."""
        for k, ti in self.inputs.items():
            if ti.text or k not in self.card_shown:     # an empty retyped box leaves the card's value
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
        display = KLabel(text=grouped(f.value, f.kind) or " ", size_role="title_sp", bold=True)
        pad = Keypad(layout="id" if f.kind == "id_number" else "digits", max_len=f.max_len or 20)
        pad.labels = pad_labels(lang)
        pad.value = f.value
        pad.bind(value=lambda *_: setattr(display, "text", grouped(pad.value, f.kind) or " "))

        def ok():
            self.send_field(f.key, pad.value)
        pad.build(app, ok)
        editor.add_widget(KLabel(text=f.label, bold=True))
        editor.add_widget(display)
        editor.add_widget(pad)
        self._reveal(f.key)

    def edit_text(self, f, composer: Composer | None = None, key_height: float | None = None) -> TextKeyboard:
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
        key_h = key_height or self._fitted_key_height or dp(th["target_dp"]) * (0.75 if landscape else 1.0)

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
        self._reveal(f.key)
        return kb

    def _fit_editor(self, *_) -> None:
        """Landscape: the keyboard or keypad and the buttons under it must fit the column beside the form (a 720p
        screen in elderly mode is shorter than they are): lower the keys as much as needed, never under 60 dp."""
        if self.orientation != "horizontal":
            return
        editor, actions = self.ids.editor, self.ids.actions
        column = editor.parent
        over = editor.height + actions.height + 2 * column.spacing - column.height
        if over <= 1 or not editor.children:
            return
        least = dp(60)
        if self.keyboard is not None and self.keyboard_field is not None:
            kb = self.keyboard
            lower = max(least, kb.key_height - over / 5)      # the candidate bar and four rows of keys
            if lower < kb.key_height - 0.5:
                self._fitted_key_height = lower
                self.keyboard = None                          # the same composer, on lower keys
                self.edit_text(self.keyboard_field, composer=kb.composer, key_height=lower)
            return
        pad = next((w for w in editor.children if isinstance(w, Keypad)), None)
        if pad is not None and pad.row_default_height > least + 0.5:
            rows = len(pad.children) // pad.cols if pad.cols else 1
            lower = max(least, pad.row_default_height - over / max(rows, 1))
            pad.row_default_height = lower
            for key in pad.children:
                if isinstance(key, KButton):
                    key.fixed_height = lower
            pad.height = rows * lower + (rows - 1) * pad.spacing[1]

    def _reveal(self, key: str) -> None:
        """The field being typed in, label and box, stays in sight above the keyboard or keypad. Opening one
        shrinks the form's view (or narrows it beside the keyboard in landscape, so texts wrap anew): the form
        scrolls once that layout is done, and again whenever the view or the fields change size meanwhile."""
        self._focus_key = key
        Animation.cancel_all(self.ids.scroll, "scroll_y")    # a snap still gliding (_snap) would undo the scroll
        Clock.schedule_once(lambda dt: self._scroll_to_focus(), 0)

    def _row(self, key: str):
        return next((r for r in self.ids.fields.children if getattr(r, "field_key", None) == key), None)

    def _scroll_to_focus(self, *_) -> None:
        """Scroll so that the focused field is whole in the view and the view's top edge falls between two
        fields (a box cut at the top, its label scrolled away, would read as another field's): the view starts
        at the highest field's top from which the focused one still fits, the focused field as low as it can
        be, with the fields above it for context. Past the last field, padding lets it rise that high."""
        key = self._focus_key
        editing = bool(self.ids.editor.children) or self.keyboard is not None
        row = self._row(key) if key is not None and editing else None
        if row is None:
            self._focus_key = None
            self._top_if_fits()
            return
        sv, grid = self.ids.scroll, self.ids.fields
        view = sv.height
        gap = grid.spacing[1] / 2
        tops = sorted(max(0.0, grid.top - r.top - gap) for r in grid.children)   # from the top of the fields
        top, bottom = grid.top - row.top, grid.top - row.y
        fits = [t for t in tops if t <= top and t + view >= bottom]
        offset = fits[0] if fits else top           # a field taller than the view: its label at the top
        pad = max(0.0, offset + view - (grid.height - grid.padding[3])) if offset > 0 else 0.0   # past the last field
        if abs(pad - grid.padding[3]) > 0.5:
            grid.padding = [0, 0, self._bar_room, pad]    # grid.height follows next frame, and this again
            return
        scrollable = grid.height - view
        sv.scroll_y = 1.0 if scrollable <= 0 else min(1.0, max(0.0, 1 - offset / scrollable))

    def _refit(self, *_) -> None:
        if self._focus_key is not None:
            Clock.schedule_once(self._scroll_to_focus, 0)
        else:
            self._top_if_fits()

    def _top_if_fits(self, *_) -> None:
        """A form shorter than its space starts at the top (Kivy would otherwise keep it where it was scrolled).
        With no field being typed in, the padding past the last field is what lets a free scroll end on a field's
        top (:meth:`_rest_padding`), and the form is brought to rest there (a keyboard closed, the view grew)."""
        grid = self.ids.fields
        if self._focus_key is None:
            pad = self._rest_padding()
            if abs(pad - grid.padding[3]) > 0.5:
                grid.padding = [0, 0, self._bar_room, pad]    # grid.height follows next frame, and this again
                return
        if grid.height <= self.ids.scroll.height:
            self.ids.scroll.scroll_y = 1
        elif self._focus_key is None and self._settling is None:
            self._snap()

    def _boundaries(self) -> list[float]:
        """Where the view's top edge may rest: half a gap above each field, from the top of the fields."""
        grid = self.ids.fields
        gap = grid.spacing[1] / 2
        return sorted(max(0.0, grid.top - r.top - gap) for r in grid.children)

    def _rest_padding(self) -> float:
        """Free scrolling: the room past the last field that makes the end of the scroll a field's top, so that the
        last fields can be seen whole with no box cut at the top edge (the least such room: none when the end
        falls between two fields already, or when the fields fit)."""
        sv, grid = self.ids.scroll, self.ids.fields
        end = grid.height - grid.padding[3] - sv.height      # how far the fields alone scroll
        if end <= 0 or not grid.children:
            return 0.0
        return min((t for t in self._boundaries() if t >= end - 0.5), default=end) - end

    def _scrolled(self, *_) -> None:
        """A finger let go of the form: once it has stopped gliding, :meth:`_snap`."""
        if self._settling is None:
            self._settling = Clock.schedule_interval(self._snap_when_still, 0.05)

    def _snap_when_still(self, _dt) -> None:
        sv = self.ids.scroll
        effect = sv.effect_y
        moving = effect is not None and (effect.is_manual or abs(effect.velocity) > 1e-3)
        # past an end: springing back (Kivy's effect stops within half a pixel of the end, so less is rest)
        past = max(sv.scroll_y - 1.0, -sv.scroll_y, 0.0) * max(self.ids.fields.height - sv.height, 1.0)
        if moving or past > 1.0:
            return
        self._settling.cancel()
        self._settling = None
        if past:
            sv.scroll_y = min(1.0, max(0.0, sv.scroll_y))
        self._snap()

    def _snap(self) -> None:
        """At rest after a free scroll, the view's top edge must not cut a field: a box whose label is scrolled away
        reads as the field above's (an older resident types into the wrong one). The form glides to the nearer
        edge of the cut field: up to show it whole with its label, or down past it. Not while a keyboard is open:
        then :meth:`_scroll_to_focus` places the form."""
        if self._focus_key is not None:
            return
        sv, grid = self.ids.scroll, self.ids.fields
        scrollable = grid.height - sv.height
        if scrollable <= 0:
            return
        offset = (1 - sv.scroll_y) * scrollable
        gap = grid.spacing[1] / 2
        for r in grid.children:
            top, bottom = grid.top - r.top, grid.top - r.y
            if top >= 0 and top + 1 < offset < bottom - 1:    # (top < 0: a row not laid out yet)
                above, below = max(0.0, top - gap), bottom + gap
                target = min(above if offset - above <= below - offset else below, scrollable)
                if abs(target - offset) < 1:
                    return
                Animation.cancel_all(sv, "scroll_y")
                Animation(scroll_y=1 - target / scrollable, d=0.2, t="out_quad").start(sv)
                return

    def carry(self) -> dict | None:
        """What must survive the form being drawn again (a card read, a retry): the open keyboard, pending values."""
        if self.keyboard is None and not self.pending:
            return None
        return {"pending": dict(self.pending), "values": {k: self._shown(k) for k in self.fields},
                "keyboard": (self.keyboard_field.key, self.keyboard.composer) if self.keyboard is not None else None}

    def _shown(self, key: str) -> tuple[str, str | None]:
        """A field's value as the presenter last gave it: typed, or the mask of the card's."""
        return self.fields[key].value, self.card_shown.get(key)

    def restore(self, carried: dict) -> None:
        """Only for fields the presenter did not change meanwhile (a card read fills the name: the card wins)."""
        def same(k: str) -> bool:
            return k in self.fields and k in self.buttons and self._shown(k) == carried["values"].get(k)
        for k, v in carried.get("pending", {}).items():
            if same(k):
                self.pending[k] = v
                self._show_text(k, v)
        kb = carried.get("keyboard")
        if kb and same(kb[0]):
            self.edit_text(self.fields[kb[0]], composer=kb[1])
