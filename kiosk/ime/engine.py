"""Pinyin → candidates: the lookup of the on-screen keyboard's 拼音输入; no Kivy.

The resident types Latin letters (``beijingshi``); :meth:`PinyinEngine.candidates`
returns what they may mean, best first:

1. words whose pinyin covers the longest leading run of the letters
   (``北京市`` for ``beijingshi``), then shorter ones (``北京``, ``背景``),
   then single characters of the first syllable (``北``, ``被``);
2. within the same length, by how often the word is used (jieba's
   frequencies), a word of more syllables counting a little more than a
   single character for the same letters, so that ``xian`` shows both 先
   and 西安 on its first page.

Every candidate says how many letters it ``consumes``: choosing 北京 for
``beijingshi`` leaves ``shi``. Segmentation is implicit: every way of
reading the letters as syllables is tried against the dictionary (``xian``
is xian and xi'an, ``fangan`` fang'an and fan'gan); an apostrophe forces a
boundary (``xi'an``). The last syllable may be unfinished: ``zh`` and
``beijingsh`` already show 这/中 and 北京市; a finished one (``zhan``) also
offers its longer syllables (张), after its own. ü is typed ``v`` (``lv`` 绿,
``nve`` 虐; ``lue``/``nue`` work too). Nothing is learnt: what one resident
types is never remembered for the next.

The data (kiosk/ime/pinyin.txt.gz, built by kiosk/ime/build.py) is read on
the first lookup, in well under a second; each line is split only when a
lookup needs it.
"""

from __future__ import annotations

import gzip
import math
import re
import threading
from array import array
from dataclasses import dataclass
from pathlib import Path

from kiosk.ime.syllables import COMPLETIONS, LONGEST, TYPED, canonical

DATA = Path(__file__).resolve().parent / "pinyin.txt.gz"
MAX_SYLLABLES = 4              # the longest words in the data
SCALE = 8                      # the data's scores are round(ln(frequency) * SCALE)
WORD_BONUS = math.log(10) * SCALE     # per syllable beyond the first, against a character for the same letters
COMPLETION_PENALTY = math.log(100) * SCALE   # an unfinished last syllable, when the letters also read as finished
MAX_BUFFER = 40
PARSED_KEEP = 4096          # keys parsed and kept (a lookup parses a few dozen)
_NEWLINE = re.compile(b"\n")


@dataclass(frozen=True)
class Candidate:
    text: str                  # what is inserted: 北京
    consumed: int              # letters of the buffer it stands for (with apostrophes between them)
    pinyin: tuple[str, ...]    # ("bei", "jing")
    score: float               # higher is better (only meaningful within one lookup)
    completed: bool = False    # its last syllable was finished by the engine (zh → zhong)


def clean(buffer: str) -> str:
    """Lower-case letters and apostrophes only; ``ü`` becomes ``v``."""
    return "".join(c for c in buffer.lower().replace("ü", "v") if "a" <= c <= "z" or c == "'")


class PinyinEngine:
    """The dictionary, loaded on first use (thread-safe), and the lookups on it.

    The data is kept as it is in the file, one block of UTF-8 (2.7 MB) with the offsets of its lines (the
    file's keys are sorted, so a key is found by bisection): a dict of its 97,000 lines was 30 MB of Python
    objects. A key's line is parsed when a lookup needs it; the last :data:`PARSED_KEEP` keys parsed are kept.
    """

    def __init__(self, path: Path | str = DATA) -> None:
        self.path = Path(path)
        self._blob: bytes | None = None          # the file's text, UTF-8, each line ended by a newline
        self._starts = array("I")                 # where each line starts in _blob, in the file's (sorted) order
        self._parsed: dict[str, list[tuple[str, int]]] = {}
        self._lock = threading.Lock()
        self.header = ""
        self.load_seconds: float | None = None

    # -- data ----------------------------------------------------------------------------------------

    def load(self) -> None:
        if self._blob is not None:
            return
        with self._lock:
            if self._blob is not None:
                return
            import time

            t0 = time.perf_counter()
            data = gzip.decompress(self.path.read_bytes())
            body = 0
            while data.startswith(b"#", body):  # the header: where the data comes from, its licences
                end = data.index(b"\n", body) + 1
                self.header = self.header or data[body + 1:end].decode("utf-8").strip()
                body = end
            blob = data if data.endswith(b"\n") else data + b"\n"   # kept whole: the header is a few hundred bytes
            del data
            starts = array("I", [body])
            starts.extend(m.end() for m in _NEWLINE.finditer(blob, body))
            starts.pop()                          # the end of the last line starts nothing
            if any(blob[i:i + 1] in (b"\n", b"#") for i in starts):
                raise ValueError(f"{self.path}: an empty line or a comment among the data")
            self._starts = starts
            self._blob = blob
            self.load_seconds = time.perf_counter() - t0

    @property
    def loaded(self) -> bool:
        return self._blob is not None

    def _line(self, key: str) -> bytes | None:
        """The rest of ``key``'s line (``北京 120 背景 98``), or None; by bisection over the sorted keys."""
        blob, starts = self._blob, self._starts
        assert blob is not None
        want = key.encode("ascii", "replace") + b"\t"
        lo, hi = 0, len(starts)
        while lo < hi:                            # the first line whose key + tab is not below ``want``
            mid = (lo + hi) // 2
            at = starts[mid]
            if blob[at:at + len(want)] < want:
                lo = mid + 1
            else:
                hi = mid
        if lo < len(starts) and blob.startswith(want, starts[lo]):
            at = starts[lo] + len(want)
            return blob[at:blob.index(b"\n", at)]
        return None

    def entries(self, key: str) -> list[tuple[str, int]]:
        """What the data has for one pinyin key (``bei'jing``): (text, score), best first."""
        self.load()
        got = self._parsed.get(key)
        if got is None:
            rest = self._line(key)
            got = []
            if rest:
                parts = rest.decode("utf-8").split(" ")
                got = [(parts[i], int(parts[i + 1])) for i in range(0, len(parts) - 1, 2)]
            if len(self._parsed) >= PARSED_KEEP:  # a long day of typing does not grow it without end
                self._parsed.clear()
            self._parsed[key] = got
        return got

    # -- reading the letters ---------------------------------------------------------------------

    def readings(self, buffer: str) -> list[tuple[tuple[str, ...], int, bool]]:
        """Every way to read the start of ``buffer`` as 1–4 syllables: (syllables, letters used, finished by us).

        A syllable is taken when its letters are typed in full; at the very end
        of the buffer, letters that only begin a syllable (``zh``, ``jin`` →
        jing) stand for each syllable they begin.
        """
        buf = clean(buffer)
        out: list[tuple[tuple[str, ...], int, bool]] = []

        def walk(pos: int, syl: tuple[str, ...]) -> None:
            while pos < len(buf) and buf[pos] == "'":
                pos += 1
            if pos >= len(buf) or len(syl) >= MAX_SYLLABLES:
                return
            end = buf.find("'", pos)
            end = len(buf) if end < 0 else end
            for n in range(1, min(LONGEST, end - pos) + 1):
                piece = buf[pos:pos + n]
                if piece in TYPED:
                    reading = syl + (canonical(piece),)
                    out.append((reading, pos + n, False))
                    walk(pos + n, reading)
            rest = buf[pos:]
            if end == len(buf) and rest in COMPLETIONS:
                for s in COMPLETIONS[rest]:
                    if s != rest and s != canonical(rest):
                        out.append((syl + (s,), len(buf), True))
        walk(0, ())
        return out

    def candidates(self, buffer: str, limit: int | None = None) -> list[Candidate]:
        """What ``buffer`` may mean, best first (see the module's docstring); [] when nothing matches."""
        buf = clean(buffer)[:MAX_BUFFER]
        if not buf.strip("'"):
            return []
        best: dict[tuple[str, int], Candidate] = {}
        exact_lengths: set[int] = set()
        found: list[tuple[tuple[str, ...], int, bool, str, int]] = []
        for syl, used, completed in self.readings(buf):
            for text, score in self.entries("'".join(syl)):
                if len(text) != len(syl):
                    continue
                found.append((syl, used, completed, text, score))
                if not completed:
                    exact_lengths.add(used)
        for syl, used, completed, text, score in found:
            s = score + WORD_BONUS * (len(syl) - 1)
            if completed and used in exact_lengths:
                s -= COMPLETION_PENALTY
            k = (text, used)
            if k not in best or best[k].score < s:
                best[k] = Candidate(text, used, syl, s, completed)
        ranked = sorted(best.values(), key=lambda c: (-c.consumed, -c.score))
        seen: set[str] = set()
        out = []
        for c in ranked:          # the same text for fewer letters is never better: keep the first
            if c.text not in seen:
                seen.add(c.text)
                out.append(c)
        return out[:limit] if limit else out

    def segment(self, buffer: str) -> list[str]:
        """The letters as syllables, for showing them (``beijingshi`` → bei jing shi; ``xian`` → xian).

        Fewest pieces; the last may be unfinished; letters that start no
        syllable stay together as one piece.
        """
        buf = clean(buffer)
        pieces: list[str] = []
        for chunk in buf.split("'"):
            if chunk:
                pieces.extend(_split(chunk))
        return pieces


def _split(chunk: str) -> list[str]:
    best = _fewest(chunk, unfinished_end=True)
    if best is not None:
        return best
    # letters that cannot be read: the longest readable start, then the rest as it is
    for k in range(len(chunk) - 1, 0, -1):
        head = _fewest(chunk[:k], unfinished_end=False)
        if head is not None:
            return head + [chunk[k:]]
    return [chunk]


def _fewest(chunk: str, unfinished_end: bool) -> list[str] | None:
    """The fewest syllables that spell ``chunk`` (the last may be unfinished if allowed), or None.

    On a tie the longer first piece wins (it is tried first).
    """
    n = len(chunk)
    best: list[list[str] | None] = [None] * (n + 1)
    best[n] = []
    for i in range(n - 1, -1, -1):
        for j in range(min(n, i + LONGEST), i, -1):
            piece, after = chunk[i:j], best[j]
            if after is None or not (piece in TYPED or unfinished_end and j == n and piece in COMPLETIONS):
                continue
            if best[i] is None or len(after) + 1 < len(best[i]):  # type: ignore[arg-type]
                best[i] = [piece] + after
    return best[0]


_shared: PinyinEngine | None = None
_shared_lock = threading.Lock()


def shared_engine() -> PinyinEngine:
    """The one engine of the process (its data loaded on first lookup)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = PinyinEngine()
        return _shared


_preloading = False


def preload() -> None:
    """Load the shared engine's data in a background thread (once), so the first letter typed does not wait."""
    global _preloading
    engine = shared_engine()
    with _shared_lock:
        if engine.loaded or _preloading:
            return
        _preloading = True
    threading.Thread(target=engine.load, name="pinyin-load", daemon=True).start()
