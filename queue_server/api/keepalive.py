"""What an answer does with a request body nobody read, so that a keep-alive connection is not lost.

A request refused before its body was read (no token, no right, no such path, too large), or sent with a
body to an operation that reads none, left it unread; when the body arrived after the answer (a slow
client, or its rest in a later packet), Granian closed the keep-alive connection without a word and the
client's next request on it failed with no answer (tests/faults/test_malformed_corpus.py saw 25 in 23,106).
:func:`finish_body`, the app's ``after_request`` (queue_server/api/__init__.py, ``install_error_handlers``),
decides on every answer:

* a known caller's body (a valid token or console session: a kiosk, a clerk's console) is read and dropped,
  up to :data:`DRAIN_LIMIT`, before the answer: the connection lives on;
* anyone else's is not read, and the answer says ``Connection: close``: a client does not send its next
  request on that connection, and nobody without a key can hold one of the server's threads by trickling a
  body it was never going to be let in with.

The door marks a known caller in the WSGI environ (:data:`KNOWN_CALLER`); the hot path (queue_server/hotpath.py)
marks it too, and that it read the body itself (:data:`BODY_READ`).
"""

from __future__ import annotations

from flask import Response, request
from werkzeug.exceptions import ClientDisconnected

DRAIN_LIMIT = 4 * 1024 * 1024  # bytes of an unread body read and dropped for a known caller
KNOWN_CALLER = "hallq.known_caller"  # in the WSGI environ: a valid token or console session came with the request
BODY_READ = "hallq.body_read"  # in the WSGI environ: the hot path read the body itself


def finish_body(response: Response) -> Response:
    """Read a known caller's unread body, or have the connection closed (the module's docstring); ``response``
    unchanged but for that."""
    length = request.content_length
    environ = request.environ
    if not length or environ.get(BODY_READ):
        return response
    stream = request.__dict__.get("stream")  # werkzeug's, limited to the Content-Length, once something read it
    if stream is not None and getattr(stream, "is_exhausted", True):
        return response
    if not environ.get(KNOWN_CALLER) or length > DRAIN_LIMIT:
        response.headers["Connection"] = "close"
        return response
    try:
        if stream is not None:
            stream.exhaust()
        else:
            raw = environ["wsgi.input"]
            while length > 0 and (chunk := raw.read(min(length, 65536))):
                length -= len(chunk)
    except (OSError, ValueError, ClientDisconnected):
        pass  # the client went away: nothing to answer
    return response
