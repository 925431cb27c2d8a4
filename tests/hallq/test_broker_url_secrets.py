"""A broker URL may carry a password (``mqtt://user:password@host``): no message, repr or status line shows it."""

from __future__ import annotations

import pytest

from hallq.mqttbase import BrokerAddress, without_password

SECRET = "S3cret-pw"


@pytest.mark.parametrize("url", [f"http://op:{SECRET}@10.0.0.5:1883", f"mqtt://op:{SECRET}@:1883",
                                 f"mqtt://op:{SECRET}@10.0.0.5:99999", f"mqtt://op:{SECRET}@10.0.0.5:port"])
def test_a_bad_broker_url_is_refused_without_its_password_in_the_message(url):
    with pytest.raises(ValueError) as refused:
        BrokerAddress.parse(url)
    assert SECRET not in str(refused.value) and "op:***@" in str(refused.value)


def test_an_address_never_shows_its_password():
    address = BrokerAddress.parse(f"mqtts://op:{SECRET}@hall.example:8883")
    assert address.password == SECRET  # kept for the connection
    assert SECRET not in str(address) and SECRET not in repr(address) and SECRET not in f"{address!r} {[address]}"


def test_without_password_keeps_everything_but_the_password():
    assert without_password(f"mqtt://op:{SECRET}@10.0.0.5:1883") == "mqtt://op:***@10.0.0.5:1883"
    assert without_password(f"mqtt://op:p@ss:{SECRET}@h") == "mqtt://op:***@h"  # the last @ ends the credentials
    for plain in ("mqtt://op@10.0.0.5", "mqtt://10.0.0.5:1883", "", "not a url"):
        assert without_password(plain) == plain
