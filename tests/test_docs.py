"""The documentation keeps up with the code: a test fails when something is undocumented.

* every MQTT topic of the contract has a section in docs/mqtt.md, and the
  JSON example under it passes the contract's own decoder;
* every API operation appears in the docs;
* every key of the hall config and services files appears in docs/configuration.md;
* every ``hallq`` subcommand appears in the README or the docs;
* the README's two quick-start commands exist, and CI runs the README's test command.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hallq import contract
from hallq.hallconfig import HALL_FILE, SERVICES_FILE
from hallq.schema import Arr, Obj
from launcher.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def all_docs() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("*.md"))) + \
        (ROOT / "README.md").read_text(encoding="utf-8")


def mqtt_sections() -> dict[str, str]:
    text = (DOCS / "mqtt.md").read_text(encoding="utf-8")
    parts = re.split(r"^### `([^`]+)`\s*$", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


@pytest.mark.parametrize("topic", contract.TOPICS, ids=lambda t: t.name)
def test_every_topic_is_documented_with_a_valid_example(topic):
    sections = mqtt_sections()
    assert topic.pattern in sections, f"docs/mqtt.md has no section '### `{topic.pattern}`'"
    examples = re.findall(r"```json\n(.*?)```", sections[topic.pattern], flags=re.S)
    assert examples, f"the section of {topic.pattern} has no ```json example"
    for example in examples:
        payload = json.loads(example)
        contract.decode(topic, json.dumps(payload).encode())  # raises PayloadError if it is wrong


def test_no_documented_topic_is_missing_from_the_contract():
    assert set(mqtt_sections()) == {t.pattern for t in contract.TOPICS}


def test_every_api_operation_is_documented(app):
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    text = all_docs()
    missing = [op["operationId"] for ops in spec["paths"].values() for op in ops.values()
               if f"`{op['operationId']}`" not in text]
    assert not missing, f"operations not documented in docs/*.md: {missing}"


def _keys(schema: Obj, prefix: str = "") -> set[str]:
    out = set()
    for name, field in schema.fields.items():
        out.add(name)
        inner = field.items if isinstance(field, Arr) else field
        if isinstance(inner, Obj):
            out |= _keys(inner, f"{prefix}{name}.")
    return out


def test_every_config_key_is_documented():
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    spans = " ".join(re.findall(r"`([^`]+)`", prose))  # a key counts when it is a word in a code span
    missing = sorted(k for k in _keys(HALL_FILE) | _keys(SERVICES_FILE) if not re.search(rf"\b{k}\b", spans))
    assert not missing, f"config keys not in docs/configuration.md: {missing}"


def test_every_subcommand_is_documented():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    text = all_docs()
    missing = [name for name in sub.choices if f"hallq {name}" not in text]
    assert not missing, f"hallq subcommands not in README.md or docs/: {missing}"


def test_readme_quick_start_and_ci_use_the_same_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "./run.sh start" in readme and "./run.sh test" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"\brun\.sh test\b", ci), ".ci/run must call the README's test command"
