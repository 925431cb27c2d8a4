"""读给我听: what a screen says when it is read aloud, sentence by sentence (no Kivy: tested directly).

The sentences are the screen's own texts, the very ones its presenter put in
the :class:`View` from the catalogues (no second copy to drift): the screen's
title, what went wrong (the notice), the instruction (``prompt``), why it is
asked, and then what can be done here: the choices of a list, the sections of
a guide, the labels of a form's fields, a ticket's number and where to go.

What a resident typed (a name, an ID number, a phone) is never read out: the
kiosk stands in a public hall. For a Mandarin or Cantonese listener ticket
labels, dates and times are written out as they are said
(:func:`hallq.reading.spoken_zh`: A001 → "A 零零一").
"""

from __future__ import annotations

from hallq.reading import spoken_zh
from kiosk.presenters.base import View
from kiosk.texts import tr


def sentences(view: View, lang: str) -> list[str]:
    """The sentences that read ``view`` aloud, in ``lang``, in the order they are on the screen."""
    out: list[str] = [view.title]
    if view.notice is not None:
        out.append(view.notice.full)
    out.append(view.prompt)
    out.append(str(view.entry.get("why", "")) if view.kind == "entry" else "")
    out.append(str(view.entry.get("error", "")))
    if view.kind == "identity":
        out.append(str(view.result.get("why", "")))
    if view.kind in ("menu", "choose", "checklist") and view.options:
        out.append(tr("read.choices", lang))
        out += [_option(o.label, o.detail, o.selected and view.multi, lang) for o in view.options if o.enabled]
    elif view.kind == "result":
        r = view.result
        out += [f"{r.get('label', '')} {r.get('number', '')}".strip(), str(r.get("title", ""))]
        out += [str(line) for line in r.get("lines", [])]
    elif view.kind == "info":
        for s in view.sections:
            out.append(s.title)
            out += s.lines
    elif view.kind == "form":
        out.append(str(view.result.get("hint", "")))
        fields = [f.label for f in view.fields]
        if fields:
            out.append(tr("read.fields", lang, fields=("、" if lang != "en" else ", ").join(fields)))
    said: list[str] = []
    seen: set[str] = set()
    for text in out:
        text = " ".join(str(text).split())
        if text and text not in seen:
            seen.add(text)
            said.append(spoken_zh(text) if lang != "en" else text)
    return said


def _option(label: str, detail: str, selected: bool, lang: str) -> str:
    text = f"{label}, {detail}" if detail and lang == "en" else f"{label}，{detail}" if detail else label
    return tr("read.selected", lang, option=text) if selected else text
