"""The on-screen keyboard for text fields, with pinyin (拼音输入): the kiosk has no physical keyboard.

It draws a :class:`kiosk.ime.Composer` (which holds every rule of typing)
and forwards the taps to it:

* a title line: the field's name, the mode in words (拼音输入 / 英文字母 /
  数字和符号) and how many characters are left;
* the text typed so far, the pinyin being typed after it (underlined, in the
  primary colour) and a cursor;
* the candidate bar: large buttons, as many as fit, ◀ ▶ for the other pages;
  without pinyin it says what to do;
* four rows of keys: QWERTY, or the 123 page (digits, ，。、：；（）－#·, and
  号 栋 楼 单元 室 for addresses); 删除, 空格, 英文/拼音, 123, 清空 and 确定.

Keys are as tall as the theme's touch target (96 dp, 120 dp in elderly
mode; ¾ of it in landscape, where height is short), never under 60 dp.
"""

from __future__ import annotations

from collections.abc import Callable

from kivy.core.text import Label as CoreLabel
from kivy.metrics import dp, sp
from kivy.properties import StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.widget import Widget
from kivy.utils import escape_markup, get_hex_from_color

from kiosk.ime import Composer
from kiosk.texts import tr
from kiosk.ui.widgets import KButton, KLabel

LETTER_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
SYMBOL_ROWS = (tuple("1234567890"), tuple("，。、：；（）－#·"), ("-", ".", "/", "号", "栋", "楼", "室"))
GAP = 8


class ValueLine(BoxLayout):
    """The text typed, the pinyin after it and a cursor, in a bordered box (kv/widgets.kv)."""


class TextKeyboard(BoxLayout):
    """One typing session on a field: ``on_ok(text)`` is called by 确定, ``on_change(text)`` after every tap."""

    title = StringProperty("")

    def __init__(self, composer: Composer, th: dict, lang: str, on_ok: Callable[[str], None], title: str = "",
                 key_height: float | None = None, hint: str = "", on_change: Callable[[str], None] | None = None,
                 **kw) -> None:
        super().__init__(orientation="vertical", size_hint_y=None, spacing=dp(10), **kw)
        self.composer = composer
        self.th = th
        self.lang = lang
        self.when_ok = on_ok
        self.when_changed = on_change
        self.title = title
        self.extra_hint = hint
        self.key_height = key_height or dp(th["target_dp"])
        self.bar_height = self.key_height
        self._shown_on_page = 0
        self.cand_buttons: list[KButton] = []
        self.keys: dict[str, KButton] = {}

        top = BoxLayout(size_hint_y=None, spacing=dp(12))
        self.title_label = KLabel(text=title, bold=True)
        self.status = KLabel(tone="muted", size_role="small_sp", halign="right", size_hint_x=0.6)
        top.add_widget(self.title_label)
        top.add_widget(self.status)

        def fit(*_):
            top.height = max(self.title_label.height, self.status.height)
        self.title_label.bind(height=fit)
        self.status.bind(height=fit)
        self.add_widget(top)
        self.value = ValueLine()
        self.value_label = Label(markup=True, font_size=sp(th["action_sp"]), color=th["text"],
                                 halign="left", valign="middle", size_hint_y=None)
        self.value_label.bind(width=lambda *_: self._show_value(), texture_size=self._value_height)
        self.value.add_widget(self.value_label)
        self.add_widget(self.value)

        self.bar = BoxLayout(size_hint_y=None, height=self.bar_height, spacing=dp(GAP))
        self.arrow_width = dp(th["target_dp"]) * 0.8
        self.prev_btn = KButton(text="◀", fixed_height=self.bar_height, size_hint_x=None, width=self.arrow_width,
                                size_role="title_sp")
        self.next_btn = KButton(text="▶", fixed_height=self.bar_height, size_hint_x=None, width=self.arrow_width,
                                size_role="title_sp")
        self.prev_btn.bind(on_release=lambda *_: self._page(-1))
        self.next_btn.bind(on_release=lambda *_: self._page(1))
        self.cands = BoxLayout(spacing=dp(GAP))
        self.cands.bind(width=lambda *_: self._fill_candidates())
        self.bar.add_widget(self.prev_btn)
        self.bar.add_widget(self.cands)
        self.bar.add_widget(self.next_btn)
        self.add_widget(self.bar)

        self.rows = BoxLayout(orientation="vertical", size_hint_y=None, spacing=dp(GAP),
                              height=4 * self.key_height + 3 * dp(GAP))
        self.add_widget(self.rows)
        self.bind(minimum_height=self.setter("height"))
        self._layout_key: tuple | None = None
        self.refresh()

    # -- drawing ------------------------------------------------------------------------------------

    def refresh(self) -> None:
        c = self.composer
        layout = (c.mode, c.symbols, c.shift)
        if layout != self._layout_key:
            self._layout_key = layout
            self._build_keys()
        mode = "symbols" if c.symbols else c.mode
        parts = [tr(f"kb.mode.{mode}", self.lang)]
        if c.max_len:
            parts.append(tr("kb.count", self.lang, n=len(c.text), m=c.max_len))
        self.status.text = "  ·  ".join(parts)
        self._show_value()
        self._fill_candidates()
        if self.when_changed is not None:
            self.when_changed(c.text)

    def _value_height(self, *_):
        self.value_label.height = max(self.value_label.texture_size[1], sp(self.th["action_sp"]) * 1.3)
        self.value.height = self.value_label.height + dp(20)

    def _show_value(self) -> None:
        """The end of the text (as much as fits on one line), the pinyin being typed, the cursor."""
        c = self.composer
        lbl = self.value_label
        lbl.text_size = (lbl.width, None) if lbl.width > 10 else (None, None)
        px = lbl.font_size
        spelled = c.spelled()
        room = max(lbl.width - _width(spelled, px) - _width("▏…", px) - dp(8), px * 2)
        text = c.text[-int(room / (px * 0.25)) - 1:]
        if _width(text, px) > room:
            text = text[-int(room / (px * 0.5)) - 1:]
            while text and _width("…" + text, px) > room:
                text = text[1:]
            text = "…" + text
        pinyin = ""
        if spelled:
            colour = get_hex_from_color(self.th["primary"])
            pinyin = f"[color={colour}][u]{escape_markup(spelled)}[/u][/color]"
        lbl.text = escape_markup(text) + pinyin + "▏"

    def _fill_candidates(self) -> None:
        c = self.composer
        box = self.cands
        box.clear_widgets()
        self.cand_buttons = []
        cands = c.candidates
        has_pinyin = bool(c.pinyin)
        for b in (self.prev_btn, self.next_btn):      # no pinyin, no pages: the hint takes the whole bar
            b.opacity = 1 if has_pinyin else 0
            b.width = self.arrow_width if has_pinyin else 0
        if not has_pinyin or not cands:
            if c.notice == "full":
                text, tone = tr("kb.full", self.lang, n=c.max_len), "error_text"
            elif has_pinyin:
                text, tone = tr("kb.no_match", self.lang), "error_text"
            else:
                mode = "symbols" if c.symbols else c.mode
                text, tone = self.extra_hint or tr(f"kb.hint.{mode}", self.lang), "muted"
            hint = Label(text=text, color=self.th[tone], font_size=sp(self.th["body_sp"]), halign="left",
                         valign="middle")
            hint.bind(size=lambda w, *_: setattr(w, "text_size", (w.width, w.height)))
            box.add_widget(hint)
            self.prev_btn.role = "disabled"
            self.next_btn.role = "disabled"
            return
        width = box.width if box.width > 100 else dp(600)
        px = sp(self.th["title_sp"])
        used = 0.0
        start = c.page_start
        shown = 0
        for i in range(start, len(cands)):
            w = max(dp(self.th["target_dp"]) * 0.85, _width(cands[i].text, px) + dp(40))
            if shown and used + w > width:
                break
            if not shown and w > width:
                w = width
            b = KButton(text=cands[i].text, key=str(i), fixed_height=self.bar_height, size_hint_x=None, width=w,
                        size_role="title_sp", role="normal")
            b.bind(on_release=lambda btn: self.pick(int(btn.key)))
            box.add_widget(b)
            self.cand_buttons.append(b)
            used += w + dp(GAP)
            shown += 1
        if used < width:
            box.add_widget(Widget())
        self._shown_on_page = shown
        self.prev_btn.role = "normal" if c.has_prev_page else "disabled"
        self.next_btn.role = "normal" if start + shown < len(cands) else "disabled"

    def _build_keys(self) -> None:
        c = self.composer
        lang = self.lang
        self.rows.clear_widgets()
        self.keys = {}
        h = self.key_height
        rows = SYMBOL_ROWS if c.symbols else LETTER_ROWS

        def row() -> BoxLayout:
            r = BoxLayout(spacing=dp(GAP), size_hint_y=None, height=h)
            self.rows.add_widget(r)
            return r

        def key(parent, label: str, fn, units: float = 1.0, role: str = "normal", name: str = "",
                size_role: str | None = None) -> KButton:
            b = KButton(text=label, key=name or label, role=role, fixed_height=h, size_hint_x=units,
                        size_role=size_role or ("title_sp" if len(label) <= 1 else
                                                "action_sp" if len(label) <= 2 else "body_sp"))
            b.bind(on_release=lambda *_: self._tap(fn))
            parent.add_widget(b)
            self.keys[name or label] = b
            return b

        def typed(ch: str):
            if c.symbols:
                return lambda: c.symbol(ch)
            return lambda: c.letter(ch)

        def face(ch: str) -> str:
            return ch.upper() if (c.mode == "en" and c.shift and not c.symbols) else ch

        r1 = row()
        for ch in rows[0]:
            key(r1, face(ch), typed(ch), name=ch)
        r2 = row()
        if not c.symbols:
            r2.add_widget(Widget(size_hint_x=0.5))
        for ch in rows[1]:
            key(r2, face(ch), typed(ch), name=ch)
        if not c.symbols:
            r2.add_widget(Widget(size_hint_x=0.5))
        r3 = row()
        if c.symbols:
            key(r3, "单元", typed("单元"), 1.5, name="单元")
        elif c.mode == "en":
            key(r3, "⇧", c.toggle_shift, 1.5, role="selected" if c.shift else "normal", name="shift",
                size_role="title_sp")
        else:
            key(r3, "，", lambda: c.symbol("，"), 1.5, name="，")
        for ch in rows[2]:
            key(r3, face(ch), typed(ch), name=ch, size_role="title_sp" if len(ch) == 1 else "action_sp")
        key(r3, tr("kb.delete", lang), c.backspace, 1.5, name="delete")
        r4 = row()
        key(r4, tr("kb.to_en", lang) if c.mode == "zh" else tr("kb.to_zh", lang), c.toggle_mode, 1.5, name="mode")
        if c.symbols:
            back = tr("kb.to_zh", lang) if c.mode == "zh" else tr("kb.to_en", lang)
            key(r4, back, c.toggle_symbols, 1.5, name="symbols")
        else:
            key(r4, tr("kb.to_symbols", lang), c.toggle_symbols, 1.5, name="symbols", size_role="action_sp")
        key(r4, tr("kb.space", lang), c.space, 3.0, name="space")
        key(r4, tr("kb.clear", lang), c.clear, 1.5, name="clear")
        key(r4, tr("identity.ok", lang), self.ok, 2.5, role="primary", name="ok")

    # -- taps -------------------------------------------------------------------------------------------

    def _tap(self, fn) -> None:
        fn()
        if fn != self.ok:
            self.refresh()

    def pick(self, index: int) -> None:
        self.composer.pick(index)
        self.refresh()

    def _page(self, step: int) -> None:
        c = self.composer
        moved = c.next_page(self._shown_on_page) if step > 0 else c.prev_page()
        if moved:
            self._fill_candidates()

    def ok(self) -> None:
        self.when_ok(self.composer.finish())


def _width(text: str, px: float) -> float:
    """How wide ``text`` is drawn at ``px`` pixels in the default (CJK) font."""
    if not text:
        return 0.0
    return float(CoreLabel(font_size=px).get_extents(text)[0])
