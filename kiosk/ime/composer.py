"""What a resident is typing on the on-screen keyboard: the text so far and the pinyin not yet chosen; no Kivy.

The keyboard widget (kiosk/ui/keyboard.py) only draws this and forwards
taps; every rule of typing is here and tested without a screen:

* **拼音 mode** (``mode == "zh"``): letters go to the pinyin buffer; the
  candidates are the engine's; choosing one inserts it and removes the
  letters it stands for (北京 for ``beijingshi`` leaves ``shi``); 空格 with
  pinyin chooses the first candidate; a digit or a punctuation mark first
  converts the pinyin with the first candidates, then is typed;
* **English mode** (``"en"``): letters are typed as they are; ⇧ makes the
  next one a capital;
* 删除 takes back the last pinyin letter first, then the last character of
  the text; 清空 clears both;
* :meth:`finish` (确定) converts pinyin still waiting with the first
  candidates and returns the text, as pressing 空格 until it is gone would;
* the text never grows past ``max_len`` characters: a candidate that would
  not fit is refused (``notice == "full"``).
"""

from __future__ import annotations

from kiosk.ime.engine import Candidate, PinyinEngine, shared_engine

MAX_PINYIN = 30


class Composer:
    def __init__(self, text: str = "", max_len: int | None = None, mode: str = "zh",
                 engine: PinyinEngine | None = None) -> None:
        self.max_len = max_len
        self.text = text[:max_len] if max_len else text
        self.pinyin = ""
        self.mode = mode                  # "zh" pinyin | "en" letters
        self.symbols = False              # the 123 page is shown
        self.shift = False                # English: the next letter is a capital
        self.notice = ""                  # "full" when something did not fit
        self.engine = engine or shared_engine()
        self._cands: list[Candidate] | None = None
        self._pages: list[int] = [0]      # first candidate index of each page seen so far

    # -- what is shown -----------------------------------------------------------------------------

    @property
    def candidates(self) -> list[Candidate]:
        if self._cands is None:
            self._cands = self.engine.candidates(self.pinyin) if self.pinyin else []
        return self._cands

    @property
    def page_start(self) -> int:
        return self._pages[-1]

    def next_page(self, shown: int) -> bool:
        """The next candidates after the ``shown`` ones of this page."""
        start = self.page_start + max(shown, 1)
        if start >= len(self.candidates):
            return False
        self._pages.append(start)
        return True

    def prev_page(self) -> bool:
        if len(self._pages) == 1:
            return False
        self._pages.pop()
        return True

    @property
    def has_prev_page(self) -> bool:
        return len(self._pages) > 1

    def spelled(self) -> str:
        """The pinyin as syllables: ``bei jing shi``."""
        return " ".join(self.engine.segment(self.pinyin)) if self.pinyin else ""

    @property
    def full(self) -> bool:
        return bool(self.max_len) and len(self.text) >= self.max_len  # type: ignore[operator]

    def room(self) -> int | None:
        return None if not self.max_len else self.max_len - len(self.text)

    # -- typing --------------------------------------------------------------------------------------

    def _changed(self) -> None:
        self._cands = None
        self._pages = [0]

    def _insert(self, s: str) -> bool:
        room = self.room()
        if room is not None and len(s) > room:
            self.notice = "full"
            return False
        self.text += s
        self.notice = ""
        return True

    def letter(self, ch: str) -> None:
        """A letter key (a–z, or the apostrophe that separates syllables in pinyin)."""
        ch = ch[:1]
        if self.mode == "zh" and not self.symbols and (("a" <= ch.lower() <= "z") or ch == "'"):
            if ch == "'" and (not self.pinyin or self.pinyin.endswith("'")):
                return
            if len(self.pinyin) < MAX_PINYIN:
                self.pinyin += ch.lower()
                self.notice = ""
                self._changed()
            return
        if self.shift and ch.isalpha():
            ch = ch.upper()
            self.shift = False
        self._insert(ch)

    def symbol(self, s: str) -> None:
        """A digit or punctuation: pinyin waiting is converted first (as every pinyin keyboard does)."""
        self.commit_all()
        self._insert(s)

    def pick(self, index: int) -> bool:
        """Choose candidate ``index`` (of :attr:`candidates`)."""
        cands = self.candidates
        if not 0 <= index < len(cands):
            return False
        c = cands[index]
        if not self._insert(c.text):
            return False
        self.pinyin = self.pinyin[c.consumed:].lstrip("'")
        self._changed()
        return True

    def space(self) -> None:
        """With pinyin: choose the first candidate (the letters as typed if there is none); else a space."""
        if self.pinyin:
            if not self.pick(0) and self.notice != "full":
                self._literal()
            return
        if self.text and not self.text.endswith(" "):
            self._insert(" ")

    def _literal(self) -> None:
        """Pinyin that means nothing: typed as the letters they are."""
        letters = self.pinyin.replace("'", "")
        room = self.room()
        self.text += letters if room is None else letters[:room]
        self.pinyin = ""
        self._changed()

    def commit_all(self) -> None:
        """Convert every pinyin letter waiting, first candidate after first candidate."""
        while self.pinyin:                # each pass takes at least one letter
            if not self.pick(0):
                if self.notice == "full":
                    self.pinyin = ""
                    self._changed()
                    return
                self._literal()

    def backspace(self) -> None:
        if self.pinyin:
            self.pinyin = self.pinyin[:-1].rstrip("'")
            self._changed()
        elif self.text:
            self.text = self.text[:-1]
        self.notice = ""

    def clear(self) -> None:
        self.text = ""
        self.pinyin = ""
        self.notice = ""
        self._changed()

    def toggle_mode(self) -> None:
        """中 ⇄ 英: pinyin waiting is typed as the letters it is (as every pinyin keyboard does)."""
        if self.pinyin:
            self._literal()
        self.mode = "en" if self.mode == "zh" else "zh"
        self.symbols = False
        self.shift = False

    def toggle_symbols(self) -> None:
        """The 123 page and back to letters."""
        if not self.symbols:
            self.commit_all()
        self.symbols = not self.symbols
        self.shift = False

    def toggle_shift(self) -> None:
        self.shift = not self.shift

    def finish(self) -> str:
        """确定: the text, with pinyin still waiting converted by its first candidates."""
        self.commit_all()
        return self.text.strip()

    def __repr__(self) -> str:
        return f"Composer(text={self.text!r}, pinyin={self.pinyin!r}, mode={self.mode!r}, symbols={self.symbols})"

