"""Widgets every kiosk screen uses; their look is in kv/widgets.kv, their sizes in theme.py."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from kivy.core.image import Image as CoreImage
from kivy.metrics import dp
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.image import Image
from kivy.uix.label import Label
from kivy.uix.textinput import TextInput

from kiosk.scans import BOOKING_ALPHABET

if TYPE_CHECKING:
    from kiosk.presenters.base import Option


class KLabel(Label):
    """Text in the theme: ``tone`` is a colour name (text, muted, error_text…), ``size_role`` a size name."""

    tone = StringProperty("text")
    size_role = StringProperty("body_sp")


class KButton(ButtonBehavior, Label):
    """A large button; ``role`` primary | normal | selected | disabled sets colours (and the words say it too)."""

    role = StringProperty("normal")
    key = StringProperty("")
    bg = StringProperty("surface")
    fg = StringProperty("text")
    size_role = StringProperty("action_sp")
    fixed_height = NumericProperty(0)     # keys of a keyboard: one height for the row, whatever the label

    def on_role(self, *_):
        self.bg, self.fg = {"primary": ("primary", "on_primary"), "selected": ("selected", "on_selected"),
                            "disabled": ("disabled", "on_disabled")}.get(self.role, ("surface", "text"))
        self.disabled = self.role == "disabled"


class Tile(ButtonBehavior, BoxLayout):
    """An option: its name large, a detail line, a badge; selected ones say so in words."""

    text = StringProperty("")
    detail = StringProperty("")
    badge = StringProperty("")
    key = StringProperty("")
    mark = StringProperty("")
    selected = BooleanProperty(False)
    enabled = BooleanProperty(True)
    primary = BooleanProperty(False)
    scale = NumericProperty(1.0)
    bg = StringProperty("surface")
    fg = StringProperty("text")

    def on_kv_post(self, *_):
        self._restyle()
        self.bind(selected=self._restyle, enabled=self._restyle, primary=self._restyle)

    def _restyle(self, *_):
        if not self.enabled:
            self.bg, self.fg = "disabled", "on_disabled"
        elif self.selected:
            self.bg, self.fg = "selected", "on_selected"
        elif self.primary:
            self.bg, self.fg = "primary", "on_primary"
        else:
            self.bg, self.fg = "surface", "text"
        self.disabled = not self.enabled


class NoticeBar(BoxLayout):
    text = StringProperty("")
    level = StringProperty("info")


class Header(BoxLayout):
    title = StringProperty("")
    step = StringProperty("")
    readable = BooleanProperty(False)     # the screen has an instruction to read aloud: 读给我听 is shown


class ReadAloudButton(KButton):
    """读给我听, in every screen's header: reads the screen aloud (kiosk.reading); touched again, it stops.
    Its words come from the app (``app.read_text``: 读给我听 or 停止朗读), a loudspeaker drawn before them."""

    shown = BooleanProperty(False)
    ICON_DP = 76                          # the loudspeaker's room, left of the words

    def on_kv_post(self, *_):
        self.bind(text=self._fit, font_size=self._fit, parent=self._fit, shown=self._fit)
        self.on_shown()
        self._fit()

    def on_shown(self, *_):
        self.disabled = not self.shown

    def _fit(self, *_):
        """As wide as its words and the loudspeaker, as tall as the header allows (at least 64 dp)."""
        from kivy.core.text import Label as CoreLabel

        if self.parent is not None and self.parent.height:
            self.parent.unbind(height=self._fit)
            self.parent.bind(height=self._fit)
            self.fixed_height = max(dp(64), self.parent.height - dp(12))
        words = CoreLabel(text=self.text or " ", font_size=self.font_size, bold=self.bold)
        words.refresh()
        self.width = (words.texture.size[0] + dp(self.ICON_DP + 44)) if self.shown else 0

    def on_release(self):
        from kivy.app import App

        App.get_running_app().toggle_read()


class Footer(BoxLayout):
    pass


class FieldRow(BoxLayout):
    pass


class QrImage(Image):
    """A QR code drawn from text (the ticket's page, a booking, a receipt), sharp at any size."""

    data = StringProperty("")

    def on_data(self, *_):
        if not self.data:
            self.texture = None
            return
        import qrcode

        qr = qrcode.QRCode(border=2, box_size=8, error_correction=qrcode.constants.ERROR_CORRECT_M)
        qr.add_data(self.data)
        qr.make(fit=True)
        buf = io.BytesIO()
        qr.make_image(fill_color="black", back_color="white").save(buf, format="PNG")
        buf.seek(0)
        texture = CoreImage(buf, ext="png").texture
        texture.mag_filter = "nearest"
        texture.min_filter = "nearest"
        self.texture = texture


KEYPADS = {
    "digits": list("123456789") + ["", "0", ""],
    "id": list("123456789") + ["X", "0", ""],
    "code": list(BOOKING_ALPHABET),
    "ticket": list("ABCDE") + list("1234567890"),
    "tracking": list("SQ-") + list("1234567890") + list(BOOKING_ALPHABET.translate(str.maketrans("", "", "23456789"))),
}


class Keypad(GridLayout):
    """An on-screen keypad for numbers and codes; typing stays in the widget until "OK"."""

    value = StringProperty("")
    layout = StringProperty("digits")
    max_len = NumericProperty(64)     # a property: FormStep passes it to the constructor
    labels = ListProperty(["删除", "清空", "确定"])

    def build(self, app, on_ok) -> None:
        self.clear_widgets()
        keys = KEYPADS.get(self.layout, KEYPADS["digits"])
        self.cols = 3 if len(keys) <= 12 else 6
        self.spacing = dp(10)
        self.size_hint_y = None
        rows = -(-len(keys) // self.cols) + 1
        height = dp(app.th["target_dp"]) * (1.0 if self.cols == 3 else 0.8)
        self.row_default_height = height
        self.row_force_default = True
        self.height = rows * height + (rows - 1) * dp(10)
        for k in keys:
            if not k:
                self.add_widget(Label())
                continue
            b = KButton(text=k, key=k, size_role="title_sp")
            b.bind(on_release=lambda btn: self.type(btn.key))
            self.add_widget(b)
        tail = [(self.labels[0], self.backspace, "normal", "pad:delete"), (self.labels[1], self.clear, "normal",
                                                                            "pad:clear"),
                (self.labels[2], on_ok, "primary", "pad:ok")]
        for _ in range(self.cols - 3):
            self.add_widget(Label())
        for text, fn, role, key in tail:
            b = KButton(text=text, role=role, key=key)
            b.bind(on_release=lambda btn, fn=fn: fn())
            self.add_widget(b)

    def type(self, ch: str) -> None:
        if len(self.value) < self.max_len:
            self.value += ch

    def backspace(self) -> None:
        self.value = self.value[:-1]

    def clear(self) -> None:
        self.value = ""


class KTextInput(TextInput):
    """A form field; ``field_key`` ties it to the presenter's field."""

    field_key = StringProperty("")


def option_button(opt: Option, on_press, role: str | None = None) -> KButton:
    """A presenter's option (an action, a choice, a footer button) as a button; a tap calls ``on_press(key)``."""
    b = KButton(text=(("✓ " if opt.selected else "") + opt.label), key=opt.key,
                role=role or ("selected" if opt.selected else "primary" if opt.primary else "normal"))
    if not opt.enabled:
        b.role = "disabled"
    b.bind(on_release=lambda btn: on_press(btn.key))
    return b
