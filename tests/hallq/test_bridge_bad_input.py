"""county-bridge.toml with wrong types, control characters or bytes that are not UTF-8: a BridgeConfigError
naming the file and the key, never a traceback, and nothing that could add a line to Mosquitto's config."""

from __future__ import annotations

import re

import pytest

from hallq import bridge

GOOD = {"address": '"a:1"', "username": '"u"', "password_file": '"s"'}


def write(folder, **keys) -> None:
    lines = "".join(f"{k} = {v}\n" for k, v in {**GOOD, **keys}.items() if v is not None)
    (folder / "s").write_text("pw\n", encoding="utf-8")
    (folder / bridge.FILE).write_text("[bridge]\n" + lines, encoding="utf-8")


def refused(folder, *words: str) -> str:
    with pytest.raises(bridge.BridgeConfigError) as e:
        bridge.load(folder)
    message = str(e.value)
    assert message.startswith(f"{folder / bridge.FILE}: "), message
    for word in words:
        assert word in message, message
    return message


def test_bridge_that_is_not_a_table(tmp_path):
    (tmp_path / bridge.FILE).write_text("bridge = 5\n", encoding="utf-8")
    refused(tmp_path, "bridge must be a table")


@pytest.mark.parametrize("key, value", [
    ("password_file", "5"), ("username", "5"), ("cafile", "5"), ("username", "[\"u\"]"), ("password_file", "{ a = 1 }"),
])
def test_a_key_of_the_wrong_type(tmp_path, key, value):
    write(tmp_path, **{key: value})
    refused(tmp_path, f"[bridge] {key} must be a string")


@pytest.mark.parametrize("value", ["5", "[5]", "[]", '["a:1", 2]', "{ a = 1 }", '"a:1\\nlistener 1883"'])
def test_an_address_of_the_wrong_type(tmp_path, value):
    write(tmp_path, address=value)
    refused(tmp_path, "[bridge] address must be host:port")


def test_tls_of_the_wrong_type(tmp_path):
    write(tmp_path, tls='"no"')
    refused(tmp_path, "[bridge] tls must be true or false")


@pytest.mark.parametrize("key", ["username", "cafile"])
@pytest.mark.parametrize("value", [r'"u\nallow_anonymous true"', r'"u\rx"', r'"u\tx"', r'"u\u0000x"', r'"u\u0085x"'])
def test_control_characters_are_refused(tmp_path, key, value):
    write(tmp_path, **{key: value}, tls="true")
    refused(tmp_path, f"[bridge] {key} must be one line")


def test_a_password_with_a_control_character(tmp_path):
    write(tmp_path)
    (tmp_path / "s").write_bytes(b"pw\rallow_anonymous true\n")
    refused(tmp_path, "password_file", "one line")


def test_a_bridge_file_that_is_not_utf8(tmp_path):
    (tmp_path / bridge.FILE).write_bytes('[bridge]\nusername = "镇"\n'.encode("gbk"))
    refused(tmp_path, "not UTF-8")


def test_a_password_file_that_is_not_utf8(tmp_path):
    write(tmp_path)
    (tmp_path / "s").write_bytes(b"\xff\xfe pw")
    refused(tmp_path, "password_file", "not UTF-8")


def test_a_good_file_still_loads_into_a_block_without_stray_lines(tmp_path):
    write(tmp_path, tls="true", cafile='"/etc/hallq/county-ca.crt"')
    b = bridge.load(tmp_path)
    assert b == bridge.Bridge(address="a:1", username="u", password="pw", tls=True, cafile="/etc/hallq/county-ca.crt")
    lines = bridge.block("x", b)
    assert all(not re.search(r"[\x00-\x1f]", line) for line in lines)
    assert "bridge_cafile /etc/hallq/county-ca.crt" in lines
