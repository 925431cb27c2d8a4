"""Errors of the queue domain, each with an HTTP status and a sentence in three languages.

The API turns every :class:`DomainError` into the one error shape (see
docs/api.md); kiosks show ``messages[lang]`` to the resident as it is, so each
message is a plain sentence a resident understands, and says what to do.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 400
    code = "bad_request"
    fields: list[dict[str, Any]] | None = None  # every bad field ({"field", "problem"}), where a refusal lists them

    def __init__(self, zh: str, hant: str, en: str, *, code: str | None = None,
                 status: int | None = None, detail: dict[str, Any] | None = None) -> None:
        super().__init__(en)
        self.messages = {"zh-Hans": zh, "zh-Hant": hant, "en": en}
        if code:
            self.code = code
        if status:
            self.status = status
        self.detail = detail or {}


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
    return NotFound(f"没有“{code}”这项业务。", f"沒有「{code}」這項業務。", f"There is no business \"{code}\".",
                    code="unknown_business", detail={"business": code})


def unknown_item(code: str) -> NotFound:
    return NotFound(f"没有编码为 {code} 的服务事项。", f"沒有編碼為 {code} 的服務事項。",
                    f"There is no service item with code {code}.", code="unknown_item", detail={"item": code})


def unknown_window(number: int) -> NotFound:
    return NotFound(f"没有 {number} 号窗口。", f"沒有 {number} 號窗口。", f"There is no window {number}.",
                    code="unknown_window", detail={"window": number})


def unknown_ticket() -> NotFound:
    return NotFound("没有找到这张号票。", "沒有找到這張號票。", "That ticket was not found.", code="unknown_ticket")
