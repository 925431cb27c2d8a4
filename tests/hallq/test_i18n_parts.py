"""The catalogues read part by part and without Babel (hallq/i18n): the same texts as the whole catalogue read
by Babel, and a process that speaks one part keeps only that part (docs/deployment.md, "The small processes'
memory")."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po as babel_read_po

from hallq import i18n
from hallq.testing import ROOT

PO_FILES = sorted(i18n.LOCALE_DIR.rglob("*.po"))


def _babel(path: Path) -> dict[str, str]:
    with path.open("rb") as f:
        cat = babel_read_po(f, charset="utf-8")
    return {m.id: m.string for m in cat if m.id and isinstance(m.id, str) and isinstance(m.string, str) and m.string}


@pytest.mark.parametrize("path", PO_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_catalogue_file_reads_as_babel_reads_it_without_babel(path):
    simple = i18n._read_simple_po(path.read_text(encoding="utf-8"))
    assert simple is not None, "the catalogues use only msgid/msgstr pairs and comments"
    assert list(simple.items()) == list(_babel(path).items())


def test_escapes_continuations_and_empty_texts_read_as_babel_reads_them(tmp_path):
    po = tmp_path / "demo.po"
    po.write_text('msgid ""\nmsgstr ""\n"Language: en\\n"\n\n#, python-format\n#. a comment\n'
                  'msgid "demo.quoted"\nmsgstr "Say \\"hi\\"\\tthen\\\\wait\\nnow \\q"\n\n'
                  'msgid ""\n"demo.long"\nmsgstr ""\n"first line, "\n"second line"\n\n'
                  'msgid "demo.untranslated"\nmsgstr ""\n', encoding="utf-8")
    assert i18n.read_po(po) == _babel(po) == {"demo.quoted": 'Say "hi"\tthen\\wait\nnow \\q',
                                              "demo.long": "first line, second line"}


@pytest.mark.parametrize("extra", ['msgctxt "menu"\nmsgid "demo.ctx"\nmsgstr "x"\n',
                                   'msgid "demo.one"\nmsgid_plural "demo.many"\nmsgstr[0] "x"\nmsgstr[1] "y"\n',
                                   '#~ msgid "demo.gone"\n#~ msgstr "old"\n'])
def test_a_file_with_more_of_the_format_is_left_to_babel(tmp_path, extra):
    po = tmp_path / "demo.po"
    po.write_text(f'msgid "demo.plain"\nmsgstr "plain"\n\n{extra}', encoding="utf-8")
    assert i18n._read_simple_po(po.read_text(encoding="utf-8")) is None
    assert i18n.read_po(po) == _babel(po)


@pytest.mark.parametrize("lang", i18n.LANGS)
def test_each_key_is_in_its_parts_file_only_so_the_part_reads_as_the_whole_catalogue(lang):
    directory = i18n.catalogue_dir(lang)
    whole = i18n.catalogue(lang)
    seen: dict[str, str] = {}
    for path in i18n.catalogue_files(directory):
        for key in i18n.read_po(path):
            assert key not in seen, f"{key} is in both {seen[key]} and {path.name}"
            seen[key] = path.name
            assert i18n._part_file(directory, key) == path, f"{key} is not in its part's file"
            assert i18n._load_part(path)[key] == whole[key]


def test_speaking_one_part_reads_that_part_only_and_not_babel():
    code = ("import json, sys\nfrom hallq import i18n\n"
            "said = i18n.text('announcer.call', 'en', ticket='A001', window=3)\n"
            "print(json.dumps({'babel': any(m.startswith('babel') for m in sys.modules), 'said': said,\n"
            "                  'parts': i18n._load_part.cache_info().currsize, 'whole': i18n._load.cache_info().currsize}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == {"babel": False, "said": i18n.text("announcer.call", "en", ticket="A001", window=3),
                               "parts": 1, "whole": 0}
