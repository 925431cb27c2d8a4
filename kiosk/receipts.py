"""What the kiosk prints: tickets, booking slips, application receipts and one-time notices.

Each function returns the ESC/POS bytes of one job for the kiosk's printer
profile (paper width, encoding). Texts are in the resident's language; no
full ID number or name is ever printed, only the masks the server returns.
A ticket stays well under 1 KB (native QR, no images).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from device_drivers.printer import PrinterProfile, TicketDocument
from hallq.i18n import pick
from kiosk.texts import promise_words, promised_words, tr, wait_words


def when(iso_time: str | None) -> str:
    """``2026-11-23T09:30:05.259+08:00`` → ``2026-11-23 09:30`` (the hall's local time as sent)."""
    if not iso_time:
        return ""
    try:
        return datetime.fromisoformat(iso_time).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso_time[:16].replace("T", " ")


def qr_text(value: str) -> str:
    """What a QR code holds for ``value``: a web address in ASCII, as every phone's scanner reads it.

    A hall's ``public_url`` may be an internationalised name (``http://大厅.六盘水.政务:8080``, a valid address):
    its host goes to IDNA (punycode, ``xn--…``) and its path, query and fragment are percent-encoded (UTF-8),
    what a browser sends for it; a ticket printer's QR takes ASCII only. Anything else is left as it is.
    """
    if not value or value.isascii():
        return value
    try:
        parts = urlsplit(value)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return value
        host = parts.hostname.encode("idna").decode("ascii")
        if ":" in host:
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port is not None else ""
        user = ""
        if parts.username is not None:
            user = quote(parts.username, safe="") + (f":{quote(parts.password, safe='')}" if parts.password else "")
            user += "@"
        safe = "/%:@!$&'()*+,;=-._~"
        return urlunsplit((parts.scheme, user + host + port, quote(parts.path, safe=safe),
                           quote(parts.query, safe=safe + "?"), quote(parts.fragment, safe=safe + "?")))
    except (UnicodeError, ValueError):  # a label too long for IDNA, a port out of range: left as it was
        return value


def ticket(profile: PrinterProfile, hall_name: dict | str, t: dict[str, Any], lang: str,
           where: str = "", missed_minutes: int | None = None) -> bytes:
    """The queue ticket (号票): hall, business, the large number, people ahead, wait, time, QR, rules."""
    doc = TicketDocument(profile)
    doc.line(pick(hall_name, lang), align="center", bold=True)
    doc.line(pick(t.get("business_name"), lang) or t.get("business", ""), align="center")
    doc.number(t["ticket"])
    say = lambda key, **fmt: tr(key, lang, **fmt)  # noqa: E731
    promise = promise_words(say, t)
    if promise:
        doc.line(promise, align="center", bold=True)
    doc.line(tr("take.ahead", lang, n=t.get("people_ahead") or 0), align="center")
    est = wait_words(say, "take.est", "take.est_range", t)
    if est:
        doc.line(est, align="center")
    if where:
        doc.line(where, align="center")
    doc.line(when(t.get("issued_at")), align="center")
    if t.get("track_url"):
        doc.qr(qr_text(t["track_url"]))
        doc.line(tr("take.qr_hint", lang), align="center")
    if missed_minutes:
        doc.line(tr("ticket.missed_rule", lang, m=missed_minutes))
    doc.line(tr("ticket.keep", lang))
    doc.cut()
    return doc.data


def booking(profile: PrinterProfile, hall_name: dict | str, a: dict[str, Any], lang: str) -> bytes:
    """The booking slip (预约凭证) with the code large and its QR."""
    doc = TicketDocument(profile)
    doc.line(pick(hall_name, lang), align="center", bold=True)
    doc.line(tr("appt.booked", lang), align="center")
    doc.line(pick(a.get("item_name"), lang) or a.get("item", ""), align="center")
    doc.line(tr("appt.when", lang, date=a["date"], start=a["start"], end=a["end"]), align="center", bold=True)
    doc.line(tr("appt.code", lang), align="center")
    doc.line(a["code"], align="center", bold=True, scale=2)
    doc.qr(qr_text(a.get("qr") or f"HALLQ-APPT:{a['code']}"))
    doc.line(f"{tr('field.name', lang)}：{a.get('name_masked', '')}  {tr('field.id_number', lang)}：{a.get('id_masked', '')}")
    doc.line(tr("appt.checkin_rule", lang))
    if a.get("cancel_until"):
        doc.line(tr("appt.cancel_until", lang, when=when(a["cancel_until"])))
    doc.cut()
    return doc.data


def application_receipt(profile: PrinterProfile, hall_name: dict | str, app: dict[str, Any], lang: str,
                        provided: list[str], missing: list[str]) -> bytes:
    """The receipt (受理回执) with the tracking number and its QR."""
    doc = TicketDocument(profile)
    doc.line(pick(hall_name, lang), align="center", bold=True)
    doc.line(tr("apply.done", lang), align="center")
    doc.line(pick(app.get("item_name"), lang) or app.get("item", ""), align="center")
    doc.line(tr("apply.tracking", lang), align="center")
    doc.line(app["tracking_no"], align="center", bold=True)
    doc.qr(app["tracking_no"])
    applicant = app.get("applicant") or {}
    doc.line(f"{tr('field.name', lang)}：{applicant.get('name', '')}  {tr('field.id_number', lang)}：{applicant.get('id', '')}")
    doc.line(when(app.get("submitted_at")))
    if app.get("promised_by"):
        doc.line(promised_words(lambda key, **kw: tr(key, lang, **kw), app))
    for name in provided:
        doc.line(f"[√] {name}")
    for name in missing:
        doc.line(f"[ ] {name}")
    for part in app.get("parts", []):  # 一件事: each department's 办件 under the one tracking number
        doc.line(f"· {pick(part.get('item_name'), lang)}（{part.get('department', '')}）")
    doc.line(tr("apply.keep", lang))
    doc.cut()
    return doc.data


def one_time_notice(profile: PrinterProfile, hall_name: dict | str, item: dict[str, Any], lang: str,
                    printed_at: str) -> bytes:
    """一次性告知单: every material of an item, its limits, fee and contact, on one slip."""
    g = item.get("guide", {})
    doc = TicketDocument(profile)
    doc.line(pick(hall_name, lang), align="center", bold=True)
    doc.line(tr("guide.notice_title", lang), align="center", bold=True)
    doc.line(pick(item.get("name"), lang), align="center")
    doc.line(item.get("code", ""), align="center")
    doc.rule()
    doc.line(tr("guide.materials", lang), bold=True)
    for n, m in enumerate(g.get("materials", []), 1):
        need = tr("guide.required", lang) if m.get("required", True) else tr("guide.optional", lang)
        doc.line(f"{n}．{m['name']}（{tr('guide.copies', lang, form=m.get('form', ''), n=m.get('copies', 1))}，{need}）")
        if m.get("note"):
            doc.line(f"   {m['note']}")
    doc.rule()
    for line in time_limit_lines(g, lang):
        doc.line(line)
    if g.get("fee"):
        doc.line(f"{tr('guide.fee', lang)}：{g['fee']}")
    if g.get("department") or g.get("contact"):
        doc.line(f"{tr('guide.contact', lang)}：{g.get('department', '')} {g.get('contact', '')}")
    doc.line(printed_at)
    doc.cut()
    return doc.data


def package_notice(profile: PrinterProfile, hall_name: dict | str, guide: dict[str, Any], lang: str,
                   printed_at: str) -> bytes:
    """一件事的一次性告知单: the items with their departments and limits, then every material ONCE."""
    doc = TicketDocument(profile)
    doc.line(pick(hall_name, lang), align="center", bold=True)
    doc.line(tr("guide.notice_title", lang), align="center", bold=True)
    doc.line(pick(guide.get("name"), lang), align="center")
    doc.rule()
    doc.line(tr("apply.package_items", lang), bold=True)
    for n, it in enumerate(guide.get("items", []), 1):
        limit = "、".join(time_limit_lines(it, lang))
        doc.line(f"{n}．{pick(it.get('item_name'), lang)}（{it.get('department', '')}）")
        if limit:
            doc.line(f"   {limit}")
    doc.rule()
    doc.line(tr("guide.materials", lang), bold=True)
    for n, m in enumerate(guide.get("materials", []), 1):
        need = tr("guide.required", lang) if m.get("required", True) else tr("guide.optional", lang)
        doc.line(f"{n}．{m['name']}（{tr('guide.copies', lang, form=m.get('form', ''), n=m.get('copies', 1))}，{need}）")
        if m.get("note"):
            doc.line(f"   {m['note']}")
    doc.line(printed_at)
    doc.cut()
    return doc.data


def time_limit_lines(guide: dict[str, Any], lang: str) -> list[str]:
    """办理时限 as sentences: statutory and promised working days, or 即办."""
    sd, pd = guide.get("statutory_days"), guide.get("promised_days")
    if sd == 0 or pd == 0:
        return [tr("guide.immediate", lang)]
    out = []
    if sd:
        out.append(tr("guide.statutory", lang, n=sd))
    if pd:
        out.append(tr("guide.promised", lang, n=pd))
    return out
