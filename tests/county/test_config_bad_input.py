"""county.toml and the secret files it names, when they are not UTF-8: a CountyConfigError naming the file."""

from __future__ import annotations

import pytest

from county.config import CountyConfigError, load_county, resolve_secret
from tests.county.test_routing_config import BASE

NOT_UTF8 = b"\xff\xfe\xc3\x28 secret"


def test_a_secret_file_that_is_not_utf8(tmp_path):
    secret = tmp_path / "broker.secret"
    secret.write_bytes(NOT_UTF8)
    with pytest.raises(CountyConfigError, match=rf"\[broker\] password: {secret} is not UTF-8"):
        resolve_secret(f"file:{secret}", "[broker] password")


def test_a_readable_secret_file_still_reads(tmp_path):
    secret = tmp_path / "broker.secret"
    secret.write_text("pw\n", encoding="utf-8")
    assert resolve_secret(f"file:{secret}", "[broker] password") == "pw"


def test_county_toml_that_is_not_utf8(tmp_path):
    path = tmp_path / "county.toml"
    path.write_bytes(BASE.encode("gbk"))  # the Chinese names saved in GBK, as a Windows editor may
    with pytest.raises(CountyConfigError, match=rf"{path}: not UTF-8"):
        load_county(path, need_database=False)


def test_county_toml_in_utf8_still_loads(tmp_path):
    path = tmp_path / "county.toml"
    path.write_text(BASE, encoding="utf-8")
    assert set(load_county(path, need_database=False).halls) == {"town", "other-town", "village"}
