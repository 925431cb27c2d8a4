"""hallq.client reads any answer a server may give: what is not our JSON error shape becomes an ApiError saying
what came, never an exception of its own (the village's outbox and nearby threads, the kiosk, the gateway rely on
it). Found by an input audit: JSON nested too deep, and an "error" that is not an object, escaped it."""

from __future__ import annotations

import pytest

from hallq.client import ApiError, HallClient


@pytest.mark.parametrize("status, raw, code", [
    (200, b"[" * 3000 + b"]" * 3000, "bad_response"),      # Python's parser gives up (RecursionError)
    (500, b"[" * 3000 + b"]" * 3000, "bad_response"),
    (502, b"<html>bad gateway</html>", "bad_response"),
    (400, b'{"error": "bad things"}', "error"),              # another server's shape
    (400, b'{"error": {"code": 7, "messages": "x"}}', "error"),
    (404, b"[1, 2]", "error"),
])
def test_an_answer_that_is_not_ours_is_an_api_error(status, raw, code):
    with pytest.raises(ApiError) as caught:
        HallClient._decode(status, raw)
    assert caught.value.status == status and caught.value.code == code
    assert isinstance(caught.value.messages, dict)


def test_our_own_shape_is_read_as_it_is():
    with pytest.raises(ApiError) as caught:
        HallClient._decode(409, b'{"error": {"status": 409, "code": "closed", "messages": {"en": "Closed."}}}')
    assert (caught.value.code, caught.value.messages) == ("closed", {"en": "Closed."})
    assert HallClient._decode(200, b'{"a": 1}') == {"a": 1}
