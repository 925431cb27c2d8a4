"""Build the pinyin data of the on-screen keyboard (kiosk/ime/pinyin.txt.gz), once, offline.

    .venv/bin/pip install jieba pypinyin          # for building only: not needed at run time
    .venv/bin/python -m kiosk.ime.build

Sources (both MIT licensed, see kiosk/ime/README.md):

* jieba's ``dict.txt``: about 349,000 words with how often each was seen in
  its corpus (the frequency that ranks the candidates);
* pypinyin: the readings of every character (``pinyin_dict``) and of words in
  context (``lazy_pinyin`` with its phrase dictionary: 银行 yin hang, 长江
  chang jiang).

What goes in:

* every character of GB2312 (6,763), so that any name character can be
  typed, plus the other unified ideographs of GBK that pypinyin knows,
  ranked after them; each under every reading it has;
* words of 2 to 4 characters of GB2312 seen at least ``--min-freq`` times
  (jieba's few words in traditional characters are left out).

How characters are ranked: each reading of a character counts how often it
occurs inside words read that way (长 in 成长 counts for zhang, in 长期 for
chang), times ``IN_WORD``, plus how often the character stands alone as a
word (split between its readings in the same proportion); about a hundred
common surnames count twice under their surname reading (a kiosk form asks
for names: 李 li, 曾 zeng, 覃 qin). Words are ranked by their own frequency.
Scores are stored as ``round(ln(frequency) * SCALE)``.

The output is plain text, gzip-compressed, one line per pinyin key:
``bei'jing<TAB>北京 84 背景 65 …`` (candidates by score, best first), after a
``#`` header naming the sources and licences. Building takes about 10 s on a
2-core machine; the result is the same, byte for byte, for the same inputs.
"""

from __future__ import annotations

import argparse
import gzip
import math
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from kiosk.ime.syllables import SYLLABLES

OUT = Path(__file__).resolve().parent / "pinyin.txt.gz"
SCALE = 8                      # score = round(ln(freq) * SCALE): 1/8 of e per step (≈ 13 %)
IN_WORD = 0.3                  # weight of a character's uses inside words against standalone ones
MIN_FREQ = 5                   # default: drop words seen fewer times than this
MAX_WORD = 4

# readings pypinyin gives that are no typed syllable: typed like this on every pinyin keyboard, or left out
READING_FIXES = {"n": "en", "ng": "en", "hng": "heng", "ê": "ei"}

# about a hundred of the most common surnames of mainland China (as in the Ministry of Public
# Security's yearly counts), with the surname reading where the character has several
SURNAMES = ("王 李 张 刘 陈 杨 黄 赵 吴 周 徐 孙 马 朱 胡 郭 何 高 林 罗 郑 梁 谢 宋 唐 许 韩 冯 邓 曹 彭 曾:zeng "
            "肖 田 董 袁 潘 于 蒋 蔡 余 杜 叶 程 苏 魏 吕 丁 任:ren 沈 姚 卢 姜 崔 钟 谭 陆 汪 范 金 石:shi 廖 贾 夏 "
            "韦 付 方 白 邹 孟 熊 秦 邱 江 尹 薛 闫 段 雷 侯 龙 史 陶 黎 贺 顾 毛 郝 龚 邵 万:wan 钱 严 覃:qin 武 "
            "戴 莫 孔 向 汤 常:chang")
SURNAME_FACTOR = 2.0


def gb2312_chars() -> list[str]:
    """The 6,763 hanzi of GB2312 (rows 16–87), in code order."""
    out = []
    for hi in range(0xB0, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                out.append(bytes((hi, lo)).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return out


def gbk_hanzi() -> list[str]:
    """Unified ideographs U+4E00–U+9FA5 that GBK encodes (all of them: GBK covers the block)."""
    out = []
    for cp in range(0x4E00, 0x9FA6):
        ch = chr(cp)
        try:
            ch.encode("gbk")
        except UnicodeEncodeError:
            continue
        out.append(ch)
    return out


def typed(reading: str) -> str | None:
    r = READING_FIXES.get(reading, reading)
    return r if r in SYLLABLES else None


def build(min_freq: int = MIN_FREQ, out: Path = OUT, log=print) -> dict[str, int]:
    import jieba
    from pypinyin import Style, lazy_pinyin, pinyin

    t0 = time.perf_counter()
    dict_path = Path(jieba.__file__).parent / "dict.txt"
    words: list[tuple[str, int]] = []
    with dict_path.open(encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and all("\u4e00" <= c <= "\u9fa5" for c in parts[0]):
                words.append((parts[0], int(parts[1])))
    log(f"jieba {jieba.__version__}: {len(words)} words of hanzi in {dict_path.name}")

    def readings_of(ch: str) -> list[str]:
        got = pinyin(ch, style=Style.NORMAL, heteronym=True, errors=lambda x: [[] for _ in x])
        out: list[str] = []
        for r in (got[0] if got else []):
            t = typed(r)
            if t and t not in out:
                out.append(t)
        return out

    # how often each (character, reading) occurs inside words, and alone
    gb2312 = gb2312_chars()
    gb_set = set(gb2312)
    in_word: Counter = Counter()
    alone: Counter = Counter()
    entries: list[tuple[str, int, tuple[str, ...]]] = []
    for w, freq in words:
        if len(w) == 1:
            alone[w] += freq
            continue
        syl = [typed(p) for p in lazy_pinyin(w, style=Style.NORMAL, errors=lambda x: ["?"] * len(x))]
        if len(syl) != len(w) or None in syl:
            continue
        for c, s in zip(w, syl):
            in_word[(c, s)] += freq
        if len(w) <= MAX_WORD and freq >= min_freq and all(c in gb_set for c in w):
            entries.append((w, freq, tuple(syl)))   # type: ignore[arg-type]
    log(f"pinyin of words: {time.perf_counter() - t0:.1f} s")

    chars = gb2312 + [c for c in gbk_hanzi() if c not in gb_set]
    surname: dict[str, str | None] = {}
    for item in SURNAMES.split():
        ch, _, reading = item.partition(":")
        surname[ch] = reading or None

    table: dict[str, list[tuple[str, int, float]]] = defaultdict(list)
    n_chars = 0
    for ch in chars:
        rs = readings_of(ch)
        if not rs:
            continue
        n_chars += 1
        total_in = sum(in_word[(ch, r)] for r in rs)
        for i, r in enumerate(rs):
            share = (in_word[(ch, r)] / total_in) if total_in else (1.0 if i == 0 else 0.0)
            freq = IN_WORD * in_word[(ch, r)] + alone[ch] * share
            if ch in surname and (surname[ch] or rs[0]) == r:
                freq *= SURNAME_FACTOR
            if ch in gb_set:
                score = max(1, round(math.log(freq) * SCALE)) if freq >= 1 else 1
            else:
                score = 0      # outside GB2312: after every common character, still typeable
            table[r].append((ch, score, freq))
    for w, freq, syl in entries:
        table["'".join(syl)].append((w, round(math.log(freq) * SCALE), float(freq)))

    lines = []
    for key in sorted(table):
        seen: set[str] = set()
        row = []
        for text, score, _ in sorted(table[key], key=lambda e: (-e[1], -e[2], e[0])):
            if text not in seen:
                seen.add(text)
                row.append(f"{text} {score}")
        lines.append(f"{key}\t{' '.join(row)}")
    import pypinyin

    header = (f"# hallq pinyin data v1: {n_chars} characters (GB2312 + GBK), {len(entries)} words of 2-{MAX_WORD} "
              f"characters seen >= {min_freq} times; built by kiosk/ime/build.py from jieba {jieba.__version__} "
              f"dict.txt (MIT, https://github.com/fxsjy/jieba) and pypinyin {pypinyin.__version__} (MIT, "
              f"https://github.com/mozillazg/python-pinyin); score = round(ln(frequency) * {SCALE})")
    data = (header + "\n" + "\n".join(lines) + "\n").encode("utf-8")
    packed = gzip.compress(data, compresslevel=9, mtime=0)
    out.write_bytes(packed)
    stats = {"keys": len(lines), "characters": n_chars, "words": len(entries), "bytes": len(packed),
             "raw_bytes": len(data)}
    log(f"wrote {out}: {stats['keys']} keys, {n_chars} characters, {len(entries)} words, "
        f"{len(packed) / 1e6:.2f} MB ({len(data) / 1e6:.2f} MB unpacked) in {time.perf_counter() - t0:.1f} s")
    return stats


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m kiosk.ime.build", description=__doc__.split("\n")[0])
    p.add_argument("--min-freq", type=int, default=MIN_FREQ, help="keep words seen at least this often")
    p.add_argument("--out", type=Path, default=OUT)
    a = p.parse_args(argv)
    try:
        import jieba  # noqa: F401
        import pypinyin  # noqa: F401
    except ImportError:
        print("building the pinyin data needs jieba and pypinyin: .venv/bin/pip install jieba pypinyin",
              file=sys.stderr)
        return 2
    build(a.min_freq, a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
