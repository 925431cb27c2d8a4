"""MQTT input fuzzed: no decoder, no subscriber crashes on what arrives (hypothesis).

What a subscriber may receive: random bytes, JSON cut short, huge and deeply
nested payloads, the right keys with the wrong types, payloads from a newer
version, and, hardest, payloads that pass the contract but carry odd values
(window 999, a two-letter ticket, empty names, far-future times). Every
topic family goes through :func:`hallq.contract.decode`; then the
subscribers the other parts built are fed the same inputs:

* the display board: its feed (raw bytes), its model and its presenter;
* the voice announcer: its queue (``offer``) and the sentences it speaks;
* the device gateway: its MQTT handler, with simulated LED strips and keypads;
* the queue server's own subscription to device health.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hallq import contract
from hallq.clock import CHINA
from hallq.schema import Arr, Bool, Int, Map, Num, Obj, Schema, Str

SITE = "tiny"
FIXTURES = Path(__file__).resolve().parents[1] / "display_board" / "fixtures"
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
SEQUENCES = settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))  # each is a list


# -- strategies ------------------------------------------------------------------------

def valid(schema: Schema, depth: int = 0) -> st.SearchStrategy:
    """Values that pass ``schema`` (hallq.schema): the odd-but-valid inputs."""
    if isinstance(schema, Str):
        if schema.enum:
            s = st.sampled_from(schema.enum)
        elif schema.pattern:
            s = st.from_regex(schema.pattern, fullmatch=True).filter(
                lambda v: schema.min_len <= len(v) <= (schema.max_len or 10**6))
        else:
            s = st.text(min_size=schema.min_len, max_size=min(schema.max_len or 60, 60))
    elif isinstance(schema, Int):
        s = st.integers(schema.min if schema.min is not None else -2**40, schema.max if schema.max is not None else 2**40)
    elif isinstance(schema, Num):
        s = st.floats(schema.min, schema.max, allow_nan=False, allow_infinity=False)
    elif isinstance(schema, Bool):
        s = st.booleans()
    elif isinstance(schema, Arr):
        s = st.lists(valid(schema.items, depth + 1), min_size=schema.min_items,
                     max_size=max(schema.min_items, min(schema.max_items or 4, 4 if depth else 8)))
    elif isinstance(schema, Map):
        s = st.dictionaries(st.from_regex(schema.key_pattern, fullmatch=True), valid(schema.values, depth + 1),
                            max_size=min(schema.max_keys, 3))
    elif isinstance(schema, Obj):
        required = {k: valid(schema.fields[k], depth + 1) for k in schema.required}
        optional = {k: valid(v, depth + 1) for k, v in schema.fields.items() if k not in schema.required}
        s = st.fixed_dictionaries(required, optional=optional)
    else:
        s = st.none()
    return st.one_of(st.none(), s) if schema.nullable else s


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=20)


def wrong_types(topic: contract.Topic) -> st.SearchStrategy:
    """The topic's own keys, with anything at all as values."""
    return st.dictionaries(st.sampled_from(list(topic.schema.fields)), JSON, max_size=len(topic.schema.fields))


def garbage(topic: contract.Topic) -> st.SearchStrategy[bytes]:
    encoded = valid(topic.schema).map(lambda p: contract.encode(topic, p))
    return st.one_of(
        st.binary(max_size=3000),
        st.tuples(encoded, st.integers(0, 2000)).map(lambda t: t[0][: t[1]]),  # truncated JSON
        wrong_types(topic).map(lambda p: json.dumps(p).encode()),
        valid(topic.schema).map(lambda p: json.dumps({**p, "version": 7}).encode()),  # a newer version
        st.sampled_from([b"[" * 100_000, b'{"a":' * 50_000, b'"' + b"x" * (contract.MAX_PAYLOAD + 10) + b'"',
                         b"\xff\xfe\x00", b"null", b"1e999999", b'{"version": 1e400}']),
    )


def topic_and_payload(topics: tuple[contract.Topic, ...]):
    return st.sampled_from(topics).flatmap(lambda t: st.tuples(st.just(t), valid(t.schema)))


def topic_name(t: contract.Topic, payload: dict) -> tuple[str, dict[str, str]]:
    """A concrete topic for ``payload`` (its parameters from the payload where it has them)."""
    params = {"number": str(payload.get("number", 1)), "business": str(payload.get("business", "alpha")),
              "kind": "server", "id": "queue", "owner": "gateway-1",
              "device": str(payload.get("device", "pad-1"))[:64] or "pad-1"}
    needed = {k: v for k, v in params.items() if "{" + k + "}" in t.pattern}
    return t.topic(SITE, **needed), needed


def feed_without_errors(feed, messages, caplog, after_each=lambda: None) -> None:
    """Hand raw ``(topic, bytes)`` messages to a :class:`hallq.feed.HallFeed` as its connection would;
    fail if anything logged an error (the feed logs what its subscriber raised, and goes on)."""
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        for topic, data in messages:
            try:
                payload = json.loads(data)
            except (ValueError, RecursionError):
                payload = {}
            name, _ = topic_name(topic, payload if isinstance(payload, dict) else {})
            feed.handle(name, data)
            after_each()
    crashes = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not crashes, crashes[0].getMessage()


# -- the contract ------------------------------------------------------------------------

@FUZZ
@given(st.sampled_from(contract.TOPICS).flatmap(lambda t: st.tuples(st.just(t), garbage(t))))
def test_decode_raises_only_payload_error_on_anything(case):
    topic, data = case
    try:
        value = contract.decode(topic, data)
    except contract.PayloadError:
        return
    assert isinstance(value, dict) and value["version"] <= contract.VERSION


@FUZZ
@given(topic_and_payload(contract.TOPICS))
def test_every_valid_payload_decodes_to_itself(case):
    topic, payload = case
    assert contract.decode(topic, contract.encode(topic, payload)) == {"version": contract.VERSION, **payload}


# -- the display board -----------------------------------------------------------------------

class NoBroker:
    """Stands in for the MQTT connection: the feed's handler is called directly."""

    def subscribe(self, *a, **kw):
        pass

    def on_connect(self, hook):
        pass

    def on_disconnect(self, hook):
        pass


@pytest.fixture(scope="module")
def board_settings():
    from display_board.settings import load_boards

    return load_boards(FIXTURES / "board.toml")["test"]


@SEQUENCES
@given(messages=st.lists(st.sampled_from(contract.TOPICS).flatmap(
    lambda t: st.tuples(st.just(t), st.one_of(garbage(t), valid(t.schema).map(lambda p: contract.encode(t, p))))),
    min_size=1, max_size=8))
def test_the_board_survives_whatever_arrives(board_settings, messages, caplog):
    from display_board.board_main import BOARD_TOPICS
    from display_board.model import BoardModel
    from display_board.presenter import present
    from hallq.feed import HallFeed

    model = BoardModel(board_settings)
    feed = HallFeed(NoBroker(), SITE, BOARD_TOPICS, deliver=model.apply)
    now = datetime(2026, 11, 23, 9, 30, tzinfo=CHINA)
    # the screen's state is built from whatever the model now holds
    feed_without_errors(feed, messages, caplog, after_each=lambda: present(model, now))


@SEQUENCES
@given(messages=st.lists(topic_and_payload(tuple(t for t in contract.TOPICS if t.name in
                                        ("board", "calls", "queue", "window", "notices", "status"))),
                min_size=1, max_size=8))
def test_the_board_model_and_screen_take_odd_but_valid_payloads(board_settings, messages):
    from display_board.model import BoardModel
    from display_board.presenter import present

    model = BoardModel(board_settings)
    for topic, payload in messages:
        _, params = topic_name(topic, payload)
        model.apply(topic, params, {"version": 1, **payload})
    view = present(model, datetime(2026, 11, 23, 9, 30, tzinfo=CHINA))
    assert view is not None


# -- the announcer ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def announcer(tmp_path_factory):
    from device_drivers.voice import build_output
    from display_board.announcer import Announcer
    from display_board.settings import load_announcer
    from display_board.synth import PhraseCache, Synthesizer

    settings_ = load_announcer(FIXTURES / "announcer.toml")
    work = tmp_path_factory.mktemp("announcer")
    sink = build_output("wav-dir", directory=str(work / "out"))
    return Announcer(settings_, Synthesizer(PhraseCache(work / "cache", 100)), sink, work_dir=work / "work")


@SEQUENCES
@given(calls=st.lists(valid(contract.CALLS.schema), min_size=1, max_size=10))
def test_the_announcer_queues_and_words_any_valid_call(announcer, calls):
    from display_board.speech import call_text, merged_text

    for call in calls:
        announcer.offer(call)  # never started: this is the queue, ordering and duplicate logic
        for lang in announcer.settings.languages:
            assert isinstance(call_text(call, lang), str)
    for lang in announcer.settings.languages:
        assert isinstance(merged_text(calls, lang), str)
    assert announcer.pending <= 1000


# -- the device gateway ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    from device_gateway.config import load_gateway
    from device_gateway.gateway import Gateway
    from hallq.testing import TINY

    d = tmp_path_factory.mktemp("gateway")
    (d / "devices.toml").write_text(
        f'[gateway]\nid = "gateway-1"\nhall = "{TINY}"\nkey = "demo-gateway-1"\n'
        + "".join(f'[[devices]]\nkind = "led_strip"\ndriver = "simulator"\nwindow = {n}\n' for n in (1, 2, 3))
        + '[[devices]]\nkind = "keypad"\ndriver = "simulator"\nwindow = 1\n', encoding="utf-8")  # gateway-1: window 1
    gw = Gateway(load_gateway(d / "devices.toml", server="http://127.0.0.1:1"), connection=NoBroker())
    yield gw
    for bus in gw.sim_buses.values():
        bus.close()


@SEQUENCES
@given(messages=st.lists(st.sampled_from((contract.WINDOW, contract.QUEUE, contract.CALLS)).flatmap(
    lambda t: st.tuples(st.just(t), st.one_of(garbage(t), valid(t.schema).map(lambda p: contract.encode(t, p))))),
    min_size=1, max_size=8))
def test_the_gateway_survives_whatever_arrives(gateway, messages, caplog):
    feed_without_errors(gateway.feed, messages, caplog)  # what its connection calls: the gateway must not fail on it


@pytest.fixture(scope="module")
def server_state(tmp_path_factory):
    from hallq.clock import VirtualClock
    from hallq.testing import TINY
    from queue_server.app import create_app

    app = create_app(TINY, data_dir=tmp_path_factory.mktemp("health-fuzz"), mqtt=False, housekeeping=False,
                     clock=VirtualClock(datetime(2026, 11, 23, 9, 30, tzinfo=CHINA), rate=0))
    yield app.extensions["hallq"]
    app.extensions["hallq"].close()


@SEQUENCES
@given(messages=st.lists(st.one_of(garbage(contract.DEVICE_HEALTH), valid(contract.DEVICE_HEALTH.schema).map(
    lambda p: contract.encode(contract.DEVICE_HEALTH, p))), min_size=1, max_size=8))
def test_the_server_keeps_only_what_parses_of_device_health(server_state, messages):
    """The server's own subscription (queue_server.health_listener): garbage dropped, valid reports kept."""
    from queue_server.domain import attention
    from queue_server.health_listener import health_handler

    _, handle = health_handler(server_state.service, SITE)
    for data in messages:
        device = "fuzz-device"
        try:
            payload = json.loads(data)
            if isinstance(payload, dict) and isinstance(payload.get("device"), str) and payload["device"]:
                device = payload["device"]
        except (ValueError, RecursionError):
            pass
        handle(contract.DEVICE_HEALTH.topic(SITE, owner="kiosk-1", device=device.replace("/", "_").replace("+", "_")
                                            .replace("#", "_") or "x"), data, False)
    with server_state.db.read() as conn:
        for d in attention.device_health(conn):  # whatever was kept reads back in the API's shape
            assert isinstance(d["ok"], bool) and isinstance(d["problems"], list)


HEALTH = ('{"version": 1, "device": "pad-odd", "kind": %s, "ok": true, "at": "2026-11-23T09:30:00.000+08:00", '
          '"detail": {"v": %s}}')


@pytest.mark.parametrize("kind, value", [
    ('"\\ud800"', "1"),              # JSON's escape of a lone surrogate: a text with no UTF-8
    ('"pad\\udfffx"', "1"),
    ('"printer"', "NaN"),              # not JSON, though Python's parser takes them
    ('"printer"', "-Infinity"),
    ('"printer"', "1e999"),            # parsed as infinity
    ('"printer"', "9" * 5000),         # over Python's 4,300 digits for int(): a ValueError, not a JSONDecodeError
])
def test_what_no_store_can_hold_is_refused_at_decode_and_kept_out_of_the_server(server_state, kind, value):
    """Found by an input audit: each passed contract.decode (or raised past it), and a device health report with a
    lone surrogate then failed in SQLite at every delivery, its traceback logged each time."""
    from queue_server.domain import attention
    from queue_server.health_listener import health_handler

    data = (HEALTH % (kind, value)).encode()
    with pytest.raises(contract.PayloadError):
        contract.decode(contract.DEVICE_HEALTH, data)
    _, handle = health_handler(server_state.service, SITE)
    handle(contract.DEVICE_HEALTH.topic(SITE, owner="kiosk-1", device="pad-odd"), data, True)  # dropped, not raised
    with server_state.db.read() as conn:
        assert "pad-odd" not in [d["device"] for d in attention.device_health(conn)]


def test_a_surrogate_pair_is_ordinary_text():
    value = contract.decode(contract.DEVICE_HEALTH, (HEALTH % ('"\\ud83d\\ude00"', "1.5")).encode())
    assert value["kind"] == "😀" and value["detail"] == {"v": 1.5}
