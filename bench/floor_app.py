"""The least a WSGI app can do: answer ``{}``. What ``bench_floor.py`` serves with Granian alone."""

BODY = b"{}"
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def app(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]
