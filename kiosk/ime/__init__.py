"""Typing Chinese on the kiosk's touch screen: pinyin (拼音输入) for the on-screen keyboard; no Kivy here.

* :mod:`kiosk.ime.syllables`: every Mandarin syllable as typed (ü as ``v``);
* :mod:`kiosk.ime.engine`: letters → ranked candidates, from the data file
  ``pinyin.txt.gz`` (jieba's word frequencies and pypinyin's readings, both
  MIT; see README.md here), loaded on the first lookup;
* :mod:`kiosk.ime.composer`: the state of one typing session (text, pinyin,
  modes, candidate pages) that kiosk/ui/keyboard.py draws;
* :mod:`kiosk.ime.build`: rebuilds the data file (``python -m kiosk.ime.build``;
  needs jieba and pypinyin, which the kiosk itself does not).
"""

from kiosk.ime.composer import Composer
from kiosk.ime.engine import Candidate, PinyinEngine, preload, shared_engine

__all__ = ["Candidate", "Composer", "PinyinEngine", "preload", "shared_engine"]
