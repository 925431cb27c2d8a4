"""Personal data: ID numbers (GB 11643-1999), phones and names, and their masks.

Rules (个人信息保护法, GB/T 35273, see docs/privacy.md):

* a full ID number or phone never leaves the process that received it: the
  server keeps a keyed hash (to enforce "one open ticket per person") and the
  masked form, nothing else;
* every screen, ticket, topic and log line uses the masks below and only
  these, so that two differently masked copies can never be combined into
  more than either shows.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

from hallq.i18n import Texts, text, texts

# The first two digits of the area code (GB/T 2260): the provinces, autonomous regions and
# municipalities (11 北京 … 65 新疆), 71 台湾 as GB/T 2260 lists it, 81 香港 and 82 澳门, and 83 for
# residence permits of Taiwan residents (830000, GB/T 2260 has no 83; HK and Macao permits use
# 810000 and 820000). Only the province is checked: a card keeps the county code it was issued
# with after the county is merged or renamed, so a current list of counties would refuse real cards.
PROVINCES = frozenset({11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
                       50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83})
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"  # sum mod 11 -> check character
_ID_RE = re.compile(r"\d{17}[\dX]")


class InvalidIdNumber(ValueError):
    """An ID number that is not a valid GB 11643 citizen identity number.

    ``key`` names why in the catalogue (``common.id_number.*``, hallq/locale/<lang>/common.po)
    and ``fields`` fills it; :meth:`says` gives one language, :meth:`messages` every language
    the hall shows, :attr:`reason` the English (for logs).
    """

    def __init__(self, key: str, /, **fields: Any) -> None:
        super().__init__(key)
        self.key = key
        self.fields = fields

    def says(self, lang: str) -> str:
        return text(self.key, lang, **self.fields)

    def messages(self) -> Texts:
        return texts(self.key, **self.fields)

    @property
    def reason(self) -> str:
        return self.says("en")

    def __str__(self) -> str:
        return self.reason


def id_check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS))
    return _CHECK[total % 11]


@dataclass(frozen=True)
class IdNumber:
    """A validated 18-character ID number (also HK/Macao/Taiwan residence permits, 81/82/83).

    Checked: length and characters, an area code whose province exists (:data:`PROVINCES`), a
    birth date that exists and is plausible, the check character (ISO 7064 MOD 11-2).
    """

    value: str

    @classmethod
    def parse(cls, raw: str, today: date | None = None) -> "IdNumber":
        """Normalise and validate; raise :class:`InvalidIdNumber` saying why.

        >>> IdNumber.parse("11010519491231002x").value
        '11010519491231002X'
        """
        if not isinstance(raw, str):
            raise InvalidIdNumber("common.id_number.not_text")
        s = raw.strip().replace(" ", "").upper()
        if len(s) != 18:
            raise InvalidIdNumber("common.id_number.length", length=len(s))
        if not _ID_RE.fullmatch(s):
            raise InvalidIdNumber("common.id_number.characters")
        if int(s[:2]) not in PROVINCES:
            raise InvalidIdNumber("common.id_number.area", area=s[:6])
        try:
            born = date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
        except ValueError:
            raise InvalidIdNumber("common.id_number.no_such_date") from None
        if born.year < 1880 or (today is not None and born > today):
            raise InvalidIdNumber("common.id_number.implausible_date")
        if id_check_char(s[:17]) != s[17]:
            raise InvalidIdNumber("common.id_number.check_digit")
        return cls(s)

    @property
    def birth_date(self) -> date:
        s = self.value
        return date(int(s[6:10]), int(s[10:12]), int(s[12:14]))

    @property
    def male(self) -> bool:
        return int(self.value[16]) % 2 == 1

    def age_on(self, day: date) -> int:
        b = self.birth_date
        return day.year - b.year - ((day.month, day.day) < (b.month, b.day))

    @property
    def masked(self) -> str:
        return mask_id_number(self.value)

    def __repr__(self) -> str:  # never show the full number, even in a traceback
        return f"IdNumber({self.masked!r})"

    __str__ = __repr__


def mask_id_number(value: str) -> str:
    """``110105********002X``: first 6 (area) and last 4 kept, like bank statements.

    Short or malformed input is masked entirely except its last character.
    """
    v = value.strip()
    if len(v) >= 10:
        return v[:6] + "*" * (len(v) - 10) + v[-4:]
    return "*" * max(len(v) - 1, 0) + v[-1:]


_PHONE_RE = re.compile(r"1[3-9]\d{9}")
_LANDLINE_RE = re.compile(r"0\d{2,3}-?\d{7,8}")


def normalise_phone(raw: str) -> str:
    """A mainland mobile (11 digits, 1[3-9]…) or a landline with area code; raise ValueError."""
    s = re.sub(r"[\s()（）]", "", str(raw))
    if s.startswith("+86"):
        s = s[3:]
    if _PHONE_RE.fullmatch(s) or _LANDLINE_RE.fullmatch(s):
        return s
    raise ValueError("not a phone number")


def mask_phone(value: str) -> str:
    """``138****1234``."""
    v = value.replace("-", "")
    if len(v) >= 7:
        return v[:3] + "*" * (len(v) - 7) + v[-4:]
    return "*" * len(v)


# Free text writes numbers as people type them: in one run or in groups (520201 19850615 1007,
# 138-1234-5678), in ASCII or full-width digits (１３８…), a mobile after the country code (+86, 0086, 86).
_DIGIT = "[0-9\uff10-\uff19]"
_SEP = "[ \\-\u3000\uff0d\u2010-\u2015]"  # a space, a hyphen, the ideographic space, a full-width hyphen, a dash
_WORD = "[0-9A-Za-z\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]"  # a digit or a letter, ASCII or full-width
# every place an ID number could start (a lookahead, so that candidates may overlap: _ids picks among them)
_ID_IN_TEXT = re.compile(rf"(?<!{_WORD})(?=({_DIGIT}(?:{_SEP}?{_DIGIT}){{16}}{_SEP}?[0-9\uff10-\uff19XxＸｘ]"
                         rf"|{_DIGIT}(?:{_SEP}?{_DIGIT}){{14}})(?!{_WORD}))")
# a mobile: not inside a longer number (but "Tel13812345678" is one), after a country code or not
_MOBILE_IN_TEXT = re.compile(rf"(?<!{_DIGIT})(?P<cc>(?:[+＋]|00)?86[)）]?{_SEP}?)?"
                             rf"(?P<number>[1１][3-9３-９]{_DIGIT}{_SEP}?{_DIGIT}{{4}}{_SEP}?{_DIGIT}{{4}})(?!{_DIGIT})")
_ASCII = str.maketrans("０１２３４５６７８９Ｘｘ", "0123456789XX")


def _plain_digits(written: str) -> str:
    return re.sub(_SEP, "", written).translate(_ASCII).upper()


def _plausible_id(digits: str) -> bool:
    """An ID number written in groups is masked when it looks like one: a province that exists and a birth date
    that does (so that a list of amounts, dates or other numbers is left alone)."""
    born = digits[6:14] if len(digits) == 18 else "19" + digits[6:12]
    try:
        return int(digits[:2]) in PROVINCES and 1880 <= date(int(born[:4]), int(born[4:6]), int(born[6:])).year
    except ValueError:
        return False


def _ids(text: str) -> list[tuple[int, int, str]]:
    """The ID numbers quoted in ``text``: (start, end, the number in ASCII). A run of 18 or 15 digits with nothing
    between them always counts (a mistyped number is still someone's); one written in groups when plausible."""
    found: list[tuple[int, int, str]] = []
    for m in _ID_IN_TEXT.finditer(text):
        written = m.group(1)
        if found and m.start() < found[-1][1]:
            continue  # a place inside the number just found
        if re.search(_SEP, written) is None or _plausible_id(_plain_digits(written)):
            found.append((m.start(), m.start() + len(written), _plain_digits(written)))
    return found


def scrub_ids(text: str) -> str:
    """``text`` with the ID numbers in it masked (18- and 15-digit runs, as people write them), and nothing else:
    what the hall shows everyone (a notice on the boards) may give a hotline's mobile number, never a person's ID.

    >>> scrub_ids("请身份证号520201198506151232的群众到服务台，值班手机13985012345")
    '请身份证号520201********1232的群众到服务台，值班手机13985012345'
    """
    if not text:
        return text
    out, at = [], 0
    for start, end, digits in _ids(text):
        out += [text[at:start], mask_id_number(digits)]
        at = end
    return "".join(out) + text[at:]


def scrub_text(text: str) -> str:
    """Free text a resident or a clerk typed, with ID numbers and mobile numbers in it masked.

    A rating comment ("…我的身份证号520201198506151007也被念出来了") is shown on consoles and
    exported: what it quotes must not be the full number. 18- and 15-digit runs are masked as
    ID numbers (``520201********1007``), mainland mobiles as ``136****1111``; the rest is kept.
    Numbers are found as people write them: in groups, in full-width digits, a mobile after +86:

    >>> scrub_text("身份证520201 19850615 1007，也写作520201-19850615-1007")
    '身份证520201********1007，也写作520201********1007'
    >>> scrub_text("请回电+8613812345678、0086 138 1234 5678或１３８１２３４５６７８")
    '请回电+86138****5678、0086 138****5678或138****5678'

    Ticket numbers, dates, times, amounts and other numbers stay as they were:

    >>> scrub_text("A012号，2026-12-07 14:30，收费1380元，单据 100 200 300 400 500 600")
    'A012号，2026-12-07 14:30，收费1380元，单据 100 200 300 400 500 600'
    """
    if not text:
        return text
    text = scrub_ids(text)
    return _MOBILE_IN_TEXT.sub(lambda m: (m.group("cc") or "") + mask_phone(_plain_digits(m.group("number"))), text)


# Control characters in a text meant for one line (a notice, a pause reason, a name on a board): C0 and C1 controls,
# DEL, the line and paragraph separators; and the bidirectional embeddings, overrides and isolates, which reverse or
# hide what is drawn after them (nothing a Chinese or English sentence needs). Whitespace-like ones become a space.
_SPACE_CONTROLS = re.compile("[\t\n\v\f\r\x1c-\x1f\x85\u2028\u2029]+")
_OTHER_CONTROLS = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def strip_controls(text: str) -> str:
    r"""``text`` as one line: a line break, tab or other whitespace-like control becomes a space, every other control
    character (NUL, BEL, ESC, DEL, C1) and every bidi override goes; the ends are trimmed. A NUL once cut a notice
    short on the boards (a Kivy label ends its text there) and a newline drew a name over its neighbours.

    >>> strip_controls("今日\x00截止\x07，\n请到\t3号窗口\u202e ")
    '今日截止， 请到 3号窗口'
    """
    if not text:
        return text
    return _OTHER_CONTROLS.sub("", _SPACE_CONTROLS.sub(" ", text)).strip()


def name_chars(name: str) -> list[str]:
    """The characters of a name as a reader counts them: a code point each (𪚥 U+2A6A5 is one, not two UTF-16
    units or four UTF-8 bytes), with a variation selector (IVS, U+E0100…) or combining mark kept on the
    character before it."""
    out: list[str] = []
    for ch in name:
        if out and (0xFE00 <= ord(ch) <= 0xFE0F or 0xE0100 <= ord(ch) <= 0xE01EF or unicodedata.combining(ch)):
            out[-1] += ch
        else:
            out.append(ch)
    return out


def name_length(name: str) -> int:
    return len(name_chars(name))


def mask_name(name: str) -> str:
    """``张三`` → ``张*``, ``张小三`` → ``张*三``, ``欧阳娜娜`` → ``欧**娜``; ``𪚥小明`` → ``𪚥*明`` (characters
    are counted as :func:`name_chars` does, so a 生僻字 beyond the BMP is one character, never split).

    Latin names keep the first letter of each word: ``Li Lei`` → ``L* L**``.
    """
    n = name.strip()
    if not n:
        return ""
    if n.isascii():
        return " ".join(w[0] + "*" * (len(w) - 1) for w in n.split())
    chars = name_chars(n)
    if len(chars) == 1:
        return "*"
    if len(chars) == 2:
        return chars[0] + "*"
    return chars[0] + "*" * (len(chars) - 2) + chars[-1]


def keyed_hash(secret: bytes, kind: str, value: str) -> str:
    """A keyed hash (HMAC-SHA256) so equal IDs can be matched without storing them.

    The key lives in the server's data directory; without it the hash cannot
    be reversed by trying all ~10^10 plausible ID numbers.
    """
    return hmac.new(secret, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
