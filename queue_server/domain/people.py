"""The person behind a booking or an application, and the service item they come for.

Appointments and applications are in real name (实名): a name, an ID number
(GB 11643) and a phone. What is kept follows hallq.privacy: the name (the
back office needs it) and its mask; the ID number and the phone only as keyed
hashes (to recognise the same person again) and masks (to show). Every bad
field is reported at once, each with a sentence in three languages.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from datetime import date
from typing import Any

from hallq.privacy import IdNumber, InvalidIdNumber, keyed_hash, mask_name, mask_phone, name_length, normalise_phone
from queue_server.domain.context import Hall, Tx
from queue_server.domain.errors import Invalid, messages, unknown_item

# Chinese names (with · for names like 阿依古丽·买买提) or Latin letters. The ideographs are every CJK block the
# ID card's names use: URO and Ext A, the compatibility ideographs, and the supplementary planes (Ext B-H,
# U+20000-U+323AF, e.g. 𪚥 U+2A6A5, 𰻞 U+30EDE: 生僻字), with ideographic variation selectors (IVS) after them.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U000323af"
_IVS = "\ufe00-\ufe0f\U000e0100-\U000e01ef"
_NAME = re.compile(f"(?:[{_HAN}][{_IVS}]?|[·•．.A-Za-z' -])+")  # 2-40 characters: name_length

Problem = tuple[str, str, dict[str, str]]  # (field path, code, texts)


def valid_name(clean_name: str) -> bool:
    """A person's name as the ID card writes it (whitespace already collapsed): 2-40 characters as a reader counts
    them, Han (a 生僻字 with its variation selector too) or Latin letters, the middle dot of minority names."""
    return bool(_NAME.fullmatch(clean_name) and any(c.isalpha() for c in clean_name)
                and 2 <= name_length(clean_name) <= 40)


@dataclass(frozen=True)
class Person:
    name: str
    name_masked: str
    id_hash: str
    id_masked: str
    phone_hash: str
    phone_masked: str
    id_number: IdNumber | None = None  # kept in memory only, for rules that need the birth date
    phone: str = ""  # normalised, in memory only


def person_problems(tx: Tx, name: str | None, id_number: str | None, phone: str | None,
                    prefix: str = "") -> tuple[Person | None, list[Problem]]:
    """Check the fields given (None = not asked for); return the person and every problem."""
    problems: list[Problem] = []
    clean_name = " ".join((name or "").split())
    if name is not None and not valid_name(clean_name):
        problems.append((prefix + "name", "invalid_name", messages("error.person.name")))
    person_id = None
    if id_number is not None and not id_number.strip():
        problems.append((prefix + "id_number", "invalid_id_number", messages("error.person.id_number_missing")))
    elif id_number is not None:
        try:
            person_id = IdNumber.parse(id_number, today=tx.now.date())
        except InvalidIdNumber as e:
            problems.append((prefix + "id_number", "invalid_id_number",
                             messages("error.invalid_id_number", reason=id_reason(e))))
    phone_value = ""
    if phone is not None and not phone.strip():
        problems.append((prefix + "phone", "invalid_phone", messages("error.person.phone_missing")))
    elif phone is not None:
        try:
            phone_value = normalise_phone(phone)
        except ValueError:
            problems.append((prefix + "phone", "invalid_phone", messages("error.invalid_phone")))
    if problems:
        return None, problems
    secret = tx.hall.secret
    return Person(
        name=clean_name, name_masked=mask_name(clean_name) if clean_name else "",
        id_hash=keyed_hash(secret, "id", person_id.value) if person_id else "",
        id_masked=person_id.masked if person_id else "",
        phone_hash=keyed_hash(secret, "phone", phone_value) if phone_value else "",
        phone_masked=mask_phone(phone_value) if phone_value else "",
        id_number=person_id, phone=phone_value,
    ), []


def parse_person(tx: Tx, name: str | None, id_number: str | None, phone: str | None, prefix: str = "") -> Person:
    """Like :func:`person_problems`, raising :func:`invalid` when anything is wrong."""
    person, problems = person_problems(tx, name, id_number, phone, prefix)
    if problems:
        raise invalid(problems)
    assert person is not None
    return person


def id_reason(e: InvalidIdNumber) -> dict[str, str]:
    """Why an ID number is not valid, in the languages the hall shows (:mod:`hallq.privacy` names it)."""
    return e.messages()


def invalid(problems: list[Problem], status: int = 422, code: str | None = None) -> Invalid:
    """One error for several bad fields: the first one's sentence and code, all of them listed.

    ``fields`` (the API's error shape) lists each path; ``detail.fields`` gives
    each path's sentence in three languages, for the screen to show beside it.
    """
    path, first_code, texts = problems[0]
    more = len(problems) - 1
    detail = {"fields": {p: t for p, _, t in problems}}
    if more:
        err = Invalid("error.fields.more", first=texts, more=more, code=code or first_code, status=status,
                      detail=detail)
    else:
        err = Invalid.with_messages(texts, code=code or first_code, status=status, detail=detail)
    err.fields = [{"field": p, "problem": c} for p, c, _ in problems]
    return err


def item_row(conn: sqlite3.Connection, code: str, active_only: bool = True) -> dict[str, Any]:
    """A service item with its name and guide decoded; 404 when unknown."""
    row = conn.execute("SELECT * FROM items WHERE code = ?" + (" AND active" if active_only else ""),
                       (code,)).fetchone()
    if row is None:
        raise unknown_item(code)
    return {"code": row["code"], "business": row["business"], "name": json.loads(row["name"]),
            "guide": json.loads(row["guide"])}


def id_hash_of(hall: Hall, today: date | None, id_number: str, prefix: str = "") -> str:
    """The keyed hash that finds a person's bookings or applications (422 when the number is not valid)."""
    try:
        value = IdNumber.parse(id_number, today=today).value
    except InvalidIdNumber as e:
        raise invalid([(prefix + "id_number", "invalid_id_number",
                        messages("error.invalid_id_number", reason=id_reason(e)))]) from None
    return keyed_hash(hall.secret, "id", value)
