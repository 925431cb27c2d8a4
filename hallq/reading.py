"""How numbers are read aloud to a Mandarin listener: the announcer's calls and the kiosk's 读给我听 share it.

A ticket label is read letter by letter and digit by digit (A001 → "A 零零一",
as a caller in a hall says it, never "A 一"); a window or a count as a number
(12 → 十二, 105 → 一百零五). The words are written out in Chinese characters
before synthesis, so the reading does not depend on how a voice happens to
read digits. :func:`spoken_zh` rewrites a sentence shown on a screen the same
way: ticket labels, dates (2026-11-24 → 2026年11月24日) and times of day
(09:30 → 9点30分).
"""

from __future__ import annotations

import re

DIGITS = "零一二三四五六七八九"


def zh_number(n: int) -> str:
    """A number 0..9999 read as a number: 3 → 三, 12 → 十二, 105 → 一百零五, 110 → 一百一十."""
    if not 0 <= n <= 9999:
        raise ValueError(f"{n} is out of range 0..9999")
    if n < 10:
        return DIGITS[n]
    if n < 20:
        return "十" + (DIGITS[n % 10] if n % 10 else "")
    out = []
    zero = False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = n // value % 10
        if d:
            if zero and out:
                out.append("零")
            out.append(DIGITS[d] + unit)
            zero = False
        elif out:
            zero = True
    return "".join(out)


def zh_digits(digits: str) -> str:
    """Digits read one by one: 001 → 零零一."""
    return "".join(DIGITS[int(c)] for c in digits if c in "0123456789")


def ticket_words(ticket: str, numbers: str) -> str:
    """A001 → "A 零零一" (zh; letters apart, so AB is read A B, not "ab") or "A001" (en)."""
    if numbers == "en":
        return ticket
    letters = "".join(c for c in ticket if c not in "0123456789")
    return f"{' '.join(letters)} {zh_digits(ticket[len(letters):])}"


_TICKET = re.compile(r"(?<![A-Za-z0-9])([A-Z]{1,2})(\d{3,4})(?![A-Za-z0-9])")
_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")
_TIME = re.compile(r"(?<![\d:])([01]?\d|2[0-3]):([0-5]\d)(?![\d:])")


def spoken_zh(text: str) -> str:
    """A sentence from a screen as a Mandarin voice should read it: ticket labels digit by digit
    (取号 B003 → 取号 B 零零三), dates with 年月日, times with 点分 (09:00 → 9点整, 13:30 → 13点30分).
    Other numbers are left to the voice, which reads them as numbers (3 人 → 三人)."""
    text = _TICKET.sub(lambda m: f" {ticket_words(m.group(0), 'zh')} ", text)
    text = _DATE.sub(lambda m: f"{int(m.group(1))}年{int(m.group(2))}月{int(m.group(3))}日", text)
    text = _TIME.sub(lambda m: f"{int(m.group(1))}点" + (f"{int(m.group(2))}分" if int(m.group(2)) else "整"),
                     text)
    return re.sub(r" {2,}", " ", text).strip()
