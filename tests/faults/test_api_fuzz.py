"""The HTTP API fuzzed from its own OpenAPI document (schemathesis), against a real server.

Every operation the document lists gets generated requests (valid and
invalid bodies, odd query strings, path parameters), each sent as nobody,
as a kiosk (its device key), as a clerk and as a manager (bearer tokens).
Whatever comes in, the server answers below 500, every error answer has
the one error shape with the message in the three languages, and every
answer conforms to the document: its status is one the operation declares,
its content type one the document lists, its body valid against the
declared schema (schemathesis's own response checks). So the document is
checked against what the server says, not only used to generate requests.

Bounded: a few examples per operation (``HALLQ_FUZZ_EXAMPLES``, default 4),
so the whole file runs in well under a minute; raise it for a longer hunt.
"""

from __future__ import annotations

import os

import pytest
import requests
from hypothesis import HealthCheck, Phase, settings

schemathesis = pytest.importorskip("schemathesis", reason="pip install schemathesis (a test dependency)")

from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.errors import FailureGroup  # noqa: E402
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,  # noqa: E402
                                               status_code_conformance)

from hallq.i18n import LANGS  # noqa: E402
from launcher.processes import ServerProcess  # noqa: E402
from tests.conftest import KIOSK_KEY  # noqa: E402

pytestmark = pytest.mark.slow
EXAMPLES = int(os.environ.get("HALLQ_FUZZ_EXAMPLES", "4"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    server = ServerProcess(tmp_path_factory.mktemp("fuzz") / "data", threads=4)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api_schema(fuzz_server):
    return schemathesis.openapi.from_dict(fuzz_server.client().get("/openapi.json"))


class Callers:
    """The four kinds of caller; tokens are renewed if a fuzzed request ended a session."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.tokens: dict[str, str] = {}

    def _token(self, job_no: str) -> str:
        if job_no not in self.tokens:
            c = self.server.client()
            c.login(job_no, "hallq-demo")
            self.tokens[job_no] = c.token
        return self.tokens[job_no]

    def headers(self) -> dict[str, dict[str, str]]:
        return {"nobody": {}, "kiosk": {"Authorization": f"Bearer {KIOSK_KEY}"},
                "staff": {"Authorization": f"Bearer {self._token('101')}"},
                "manager": {"Authorization": f"Bearer {self._token('900')}"}}

    def renew(self) -> None:
        self.tokens.clear()


@pytest.fixture(scope="module")
def callers(fuzz_server):
    return Callers(fuzz_server)


def check(case, server, callers, problems: list[str]) -> None:
    """Send one generated request as each kind of caller; note what breaks the rules."""
    for who, auth in callers.headers().items():
        if case.operation.definition.raw.get("operationId") == "logout" and who != "nobody":
            continue  # ending the fuzzer's own sessions would only turn later requests into 401s
        headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        response = case.call(base_url=server.url, headers={**headers, **auth})
        where = f"{who}: {case.method} {case.formatted_path} query={case.query} body={str(case.body)[:200]}"
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            for failure in group.exceptions:
                problems.append(f"{where} -> {response.status_code} {failure.title}: {str(failure.message)[:300]} "
                                f"{response.text[:200]}")
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
                assert error["status"] == response.status_code and response.status_code < 500
                assert set(error["messages"]) == set(LANGS) and all(error["messages"].values())
            except (ValueError, KeyError, TypeError, AssertionError):
                problems.append(f"{where} -> {response.status_code} without the one error shape: {response.text[:200]}")
        if response.status_code == 401 and who in ("staff", "manager") and "invalid_token" in response.text:
            callers.renew()  # a fuzzed request ended the session (not a refused sign-in: that would lock us out)


def test_no_request_makes_the_server_fail(fuzz_server, api_schema, callers):
    from hypothesis import given
    from schemathesis import GenerationMode

    problems: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 50
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            @given(operation.as_strategy(generation_mode=mode))
            def fuzz(case):
                check(case, fuzz_server, callers, problems)

            try:
                fuzz()
            except Exception as e:  # a strategy that cannot generate (e.g. an impossible negative case)
                if "Unsatisfiable" not in type(e).__name__:
                    raise
    by_operation = sorted({" ".join(p.split(" -> ")[0].split()[1:3]) for p in problems})
    assert not problems, f"{len(problems)} problems in {by_operation}:\n" + "\n".join(problems[:10])


def test_numbers_in_the_path_beyond_64_bits_are_refused_not_crashed(fuzz_server, api_schema, callers):
    """Every operation with a number in its path, given 2**63 and 10**30 there, answers below 500."""
    manager = callers.headers()["manager"]
    crashed = []
    for result in api_schema.get_all_operations():
        op = result.ok()
        params = {p.name: p.definition.get("schema", {}).get("type") for p in op.path_parameters}
        if "integer" not in params.values():
            continue
        for big in (2**63, 10**30):
            path = op.path
            for n, t in params.items():
                path = path.replace("{" + n + "}", str(big) if t == "integer" else "x")
            body = b"{}" if op.method.lower() in ("post", "put") else None
            response = requests.request(op.method.upper(), fuzz_server.url + path, data=body, timeout=10,
                                        headers={**manager, "Content-Type": "application/json"})
            if response.status_code >= 500:
                crashed.append(f"{op.method.upper()} {op.path} with {big}")
    assert not crashed, "\n".join(crashed)
