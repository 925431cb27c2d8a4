"""The pinyin of Chinese text (汉字注音), for finding an item by ``yl`` or ``yanglao`` (拼音检索).

The readings come from the kiosk keyboard's data file, ``kiosk/ime/pinyin.txt.gz`` (pypinyin's
readings and jieba's words, both MIT; see kiosk/ime/README.md), which ships in the same package as
every part of hallq. It is read here as a file, not imported (the server does not import the kiosk):

* a character reads as its most used reading (参 → can, 长 → zhang);
* a word of the data reads as the data gives it in context (银行 → yin hang, 行政 → xing zheng),
  the longest word first, left to right.

:func:`readings` keeps only the words the given texts contain: every line of the file is still read
(0.1–0.4 s), but no table of 123,000 words is built and kept.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "kiosk" / "ime" / "pinyin.txt.gz"
MAX_WORD = 4  # the data's longest words
# the ideographs people write: the unified block, Extension A, the compatibility block, Extensions B–H
HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
HAN_RUN = re.compile(f"{HAN.pattern}+")


class MissingData(RuntimeError):
    """The pinyin data file is not where the package puts it."""


@dataclass(frozen=True)
class Readings:
    chars: dict[str, str]                  # 养 -> yang
    words: dict[str, tuple[str, ...]]      # 养老 -> (yang, lao), only the words the texts contain

    def syllables(self, run: str) -> list[str | None]:
        """One syllable per character of ``run`` (None for a character the data does not know)."""
        out: list[str | None] = []
        i = 0
        while i < len(run):
            for n in range(min(MAX_WORD, len(run) - i), 1, -1):
                word = self.words.get(run[i:i + n])
                if word is not None and len(word) == n:
                    out.extend(word)
                    i += n
                    break
            else:
                out.append(self.chars.get(run[i]))
                i += 1
        return out


def readings(texts: Iterable[str], path: Path = DATA) -> Readings:
    """The readings of every character and of the words found in ``texts``."""
    wanted: set[str] = set()
    for text in texts:
        for run in HAN_RUN.findall(text):
            for n in range(2, MAX_WORD + 1):
                wanted.update(run[i:i + n] for i in range(len(run) - n + 1))
    try:
        data = gzip.decompress(path.read_bytes()).decode("utf-8")
    except FileNotFoundError:
        raise MissingData(f"the pinyin data {path} is missing: reinstall hallq (it ships with the kiosk's "
                          "keyboard, kiosk/ime)") from None
    chars: dict[str, tuple[str, int]] = {}
    words: dict[str, tuple[tuple[str, ...], int]] = {}
    for line in data.splitlines():
        if line.startswith("#"):
            continue
        key, _, rest = line.partition("\t")
        parts = rest.split(" ")
        if "'" not in key:  # one syllable: characters (a word of one syllable does not exist)
            for i in range(0, len(parts) - 1, 2):
                score = int(parts[i + 1])
                if score > chars.get(parts[i], ("", -1))[1]:
                    chars[parts[i]] = (key, score)
            continue
        if wanted.isdisjoint(parts[::2]):
            continue
        syllables = tuple(key.split("'"))
        for i in range(0, len(parts) - 1, 2):
            if parts[i] in wanted:
                score = int(parts[i + 1])
                if score > words.get(parts[i], ((), -1))[1]:
                    words[parts[i]] = (syllables, score)
    return Readings({c: k for c, (k, _) in chars.items()}, {w: s for w, (s, _) in words.items()})
