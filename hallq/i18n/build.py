"""Generate the Traditional Chinese catalogues from the Simplified one, and check every catalogue.

    python -m hallq.i18n.build            # rewrite hallq/locale/zh_Hant_HK/ and zh_Hant_TW/
    python -m hallq.i18n.build --check    # exit 1 if they are stale or a catalogue is incomplete

Each part (``kiosk.po``, ``errors.po``...) of ``zh_Hans/`` is checked against the
same part of every hand-written catalogue (``en/``: every key, no other, the same
``{fields}``), and each of its messages goes through OpenCC (``s2hk``: Hong Kong characters;
``s2twp``: Taiwan characters and phrasing, e.g. 打印 → 列印, 网络 → 網路), then through
the reviewed words of ``hallq/locale/review/zh_Hant_<HK|TW>.toml``:

* ``[phrases]``: a word to replace wherever OpenCC leaves it (Taiwan writes 身分證
  where OpenCC keeps 身份證);
* ``[messages."<key>"]``: a whole message a reviewer wrote, with the Simplified
  ``source`` it was written for. When the Simplified message changes, the build
  refuses until the review is redone, so a reviewed word never hides a new meaning.

OpenCC (https://github.com/BYVoid/OpenCC, Apache-2.0) is needed only here, not
at run time: the generated catalogues are committed.
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import tomllib
from pathlib import Path

from hallq.i18n import LOCALE_DIR, catalogue_files, read_po

SOURCE = "zh_Hans"
HAND_WRITTEN = ("en",)  # catalogues written by people, checked for completeness
GENERATED = {"zh_Hant_HK": "s2hk", "zh_Hant_TW": "s2twp"}
FIELD = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)[^{}]*\}(?!\})")

HEADER = """\
# hallq messages: {what}
# This file is distributed under the same license as hallq (Apache-2.0).
msgid ""
msgstr ""
"Project-Id-Version: hallq\\n"
"Language: {lang}\\n"
"MIME-Version: 1.0\\n"
"Content-Type: text/plain; charset=UTF-8\\n"
"Content-Transfer-Encoding: 8bit\\n"

"""


def fields(message: str) -> set[str]:
    """The ``{name}`` fields of a message."""
    return set(FIELD.findall(message))


def read_comments(path: Path) -> dict[str, list[str]]:
    """The ``#.`` comments (where a message is used) of each key in a PO file."""
    from babel.messages.pofile import read_po as babel_read_po

    with path.open("rb") as f:
        return {m.id: list(m.auto_comments) for m in babel_read_po(f, charset="utf-8") if m.id}


def write_po(lang: str, what: str, messages: dict[str, str], comments: dict[str, list[str]]) -> str:
    """The text of a PO file holding ``messages`` sorted by key (deterministic: no dates)."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po as babel_write_po

    cat = Catalog(project="hallq", charset="utf-8")
    for key in sorted(messages):
        cat.add(key, messages[key], auto_comments=comments.get(key, []))
    out = io.BytesIO()
    babel_write_po(out, cat, omit_header=True, width=0, sort_output=True)
    return HEADER.format(what=what, lang=lang) + out.getvalue().decode("utf-8")


def load_review(variant: str, locale_dir: Path = LOCALE_DIR) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    path = locale_dir / "review" / f"{variant}.toml"
    if not path.exists():
        return {}, {}
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return dict(data.get("phrases", {})), dict(data.get("messages", {}))


def generate(variant: str, source: dict[str, str], locale_dir: Path = LOCALE_DIR) -> tuple[dict[str, str], list[str]]:
    """The Traditional catalogue ``variant`` and the problems of its review."""
    import opencc

    converter = opencc.OpenCC(f"{GENERATED[variant]}.json")
    phrases, reviewed = load_review(variant, locale_dir)
    problems = []
    out = {}
    for key, simplified in source.items():
        text = converter.convert(simplified)
        for word, better in phrases.items():
            text = text.replace(word, better)
        out[key] = text
    for key, review in reviewed.items():
        if key not in source:
            problems.append(f"review/{variant}.toml: {key} is not a message of {SOURCE}/ any more: remove it")
        elif review.get("source") != source[key]:
            problems.append(f"review/{variant}.toml: {key} was reviewed for {review.get('source')!r} but "
                            f"{SOURCE}/ now says {source[key]!r}: review it again and update its source")
        else:
            out[key] = review["text"]
    return out, problems


def check_catalogue(name: str, messages: dict[str, str], source: dict[str, str]) -> list[str]:
    """A catalogue must hold every source key, no other key, and the same fields in each message."""
    problems = [f"{name}: {key} is missing" for key in source if key not in messages]
    problems += [f"{name}: {key} is not in {SOURCE}/" for key in messages if key not in source]
    for key, text in messages.items():
        if key in source and fields(text) != fields(source[key]):
            problems.append(f"{name}: {key} has fields {sorted(fields(text))}, "
                            f"{SOURCE}/ has {sorted(fields(source[key]))}")
    return problems


def build(locale_dir: Path = LOCALE_DIR, check: bool = False) -> list[str]:
    """Check every catalogue and (unless ``check``) regenerate the Traditional ones; the problems found."""
    parts = catalogue_files(locale_dir / SOURCE)
    problems = [] if parts else [f"{SOURCE}/ holds no catalogue"]
    seen: dict[str, str] = {}
    all_source: dict[str, str] = {}
    for part in parts:
        source = read_po(part)
        for key in source:
            if key in seen:
                problems.append(f"{SOURCE}/{part.name}: {key} is also in {seen[key]}: a key belongs to one part")
            seen[key] = part.name
        all_source.update(source)
        for name in HAND_WRITTEN:
            problems += check_catalogue(f"{name}/{part.name}", _read(locale_dir / name / part.name), source)
    for name in HAND_WRITTEN:
        extra = {p.name for p in catalogue_files(locale_dir / name)} - {p.name for p in parts}
        problems += [f"{name}/{e}: there is no {SOURCE}/{e} it translates" for e in sorted(extra)]
    for variant in GENERATED:
        messages, review_problems = generate(variant, all_source, locale_dir)
        problems += review_problems
        wanted = set()
        for part in parts:
            path = locale_dir / variant / part.name
            wanted.add(path)
            keys = read_po(part)
            text = write_po(variant, f"Traditional Chinese ({variant[-2:]}), GENERATED by python -m "
                            f"hallq.i18n.build from {SOURCE}/{part.name}: do not edit",
                            {k: messages[k] for k in keys}, read_comments(part))
            if check:
                if not path.exists() or path.read_text(encoding="utf-8") != text:
                    problems.append(f"{variant}/{part.name} is stale: run python -m hallq.i18n.build")
            elif not review_problems:
                path.parent.mkdir(exist_ok=True)
                path.write_text(text, encoding="utf-8")
        for stale in set(catalogue_files(locale_dir / variant)) - wanted:
            if check:
                problems.append(f"{variant}/{stale.name} has no source: run python -m hallq.i18n.build")
            elif not review_problems:
                stale.unlink()
    return problems


def _read(path: Path) -> dict[str, str]:
    return read_po(path) if path.exists() else {}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m hallq.i18n.build", description=__doc__.split("\n")[0])
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if anything is stale or incomplete")
    args = p.parse_args(argv)
    problems = build(check=args.check)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
