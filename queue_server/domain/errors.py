"""Errors of the queue domain, each with an HTTP status and a sentence in the hall's languages.

A refusal names its message by a stable key of the catalogue ``errors.po``
(``hallq/locale/<lang>/errors.po``, keys ``error.*``) and gives the key's
``{fields}`` as keyword arguments::

    raise Conflict("error.window_taken", number=7, job_no="A01", code="window_taken")

The API turns every :class:`DomainError` into the one error shape (see
docs/api.md), its ``messages`` looked up from the catalogue in every language the
hall shows; kiosks show ``messages[lang]`` to the resident as it is, so each
message is a plain sentence a resident understands, and says what to do. A field
whose value is itself a text in several languages (``{"zh-Hans": ..., "en": ...}``,
e.g. a business's name) is filled with the same language as the message.
"""

from __future__ import annotations

from typing import Any, Self

from hallq.i18n import Texts, languages, pick, text


def messages(key: str, /, **params: Any) -> Texts:
    """The message ``key`` in each language the hall shows, a multilingual field in its own language."""
    return {lang: text(key, lang, **{k: pick(v, lang) if isinstance(v, dict) else v for k, v in params.items()})
            for lang in languages()}


class DomainError(Exception):
    status = 400
    code = "bad_request"
    key: str | None = None  # the catalogue key of the message (None: a refusal given again, see with_messages)
    fields: list[dict[str, Any]] | None = None  # every bad field ({"field", "problem"}), where a refusal lists them

    def __init__(self, key: str, /, *, code: str | None = None, status: int | None = None,
                 detail: dict[str, Any] | None = None, **params: Any) -> None:
        self.key = key
        self.messages = messages(key, **params)
        super().__init__(self.messages.get("en") or self.messages["zh-Hans"])
        if code:
            self.code = code
        if status:
            self.status = status
        self.detail = detail or {}

    @classmethod
    def with_messages(cls, messages: Texts, *, code: str | None = None, status: int | None = None,
                      detail: dict[str, Any] | None = None) -> Self:
        """A refusal whose sentences were already looked up: a stored refusal given again as it was first
        given (an idempotent request), or a field's own problem (:func:`queue_server.domain.people.invalid`)."""
        err = cls.__new__(cls)
        Exception.__init__(err, messages.get("en", ""))
        err.key, err.messages = None, dict(messages)
        if code:
            err.code = code
        if status:
            err.status = status
        err.detail = detail or {}
        return err


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    """The request is valid but the hall's state does not allow it now (409)."""

    status = 409
    code = "conflict"


class Invalid(DomainError):
    """Well-formed but semantically wrong input, e.g. an ID number with a bad check digit (422)."""

    status = 422
    code = "invalid"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


def unknown_business(code: str) -> NotFound:
    return NotFound("error.unknown_business", business=code, code="unknown_business", detail={"business": code})


def unknown_item(code: str) -> NotFound:
    return NotFound("error.unknown_item", item=code, code="unknown_item", detail={"item": code})


def unknown_window(number: int) -> NotFound:
    return NotFound("error.unknown_window", number=number, code="unknown_window", detail={"window": number})


def unknown_ticket() -> NotFound:
    return NotFound("error.unknown_ticket", code="unknown_ticket")
