"""The county broker's nats.conf holds bcrypt hashes, never a clear password (county/broker.py,
county/broker_hashes.py; 等保 2.0 身份鉴别: credentials stored protected), and the real NATS started from it
still lets each account in over MQTT with its clear password, refuses a wrong one, and takes a new hall secret
at the next write."""

from __future__ import annotations

import os
import re
import stat
import threading
import time

import bcrypt
import paho.mqtt.client as paho
import pytest

from county.broker import CountyBroker, CountyBrokerError, hall_hash_path, hall_secret, nats_config
from county.broker_hashes import BCRYPT_COST, is_bcrypt
from tests.county.conftest import PLATFORM_PASSWORD, County

pytestmark = pytest.mark.mosquitto

HALLS = ["town-a", "village-b"]
USER = re.compile(r'\{user: "([^"]+)", password: "([^"]*)"')


@pytest.fixture
def county(tmp_path):
    """The county's real NATS with two halls' accounts, the platform's and the tests' rogue one."""
    c = County(tmp_path, "postgresql://hallq@127.0.0.1:1/unused", [], paper=HALLS)
    c.broker.start()
    yield c
    c.broker.stop()


def clear_passwords(c: County) -> dict[str, str]:
    """Every user's clear password, as its client holds it."""
    return {"platform": PLATFORM_PASSWORD, "rogue": c.rogue_password,
            **{f"hall-{site}": hall_secret(c.broker_folder, site, create=False) for site in HALLS}}


def conf_users(c: County) -> dict[str, str]:
    return dict(USER.findall((c.broker_folder / "nats.conf").read_text(encoding="utf-8")))


def connack(c: County, username: str, password: str) -> paho.ReasonCode:
    """Connect over MQTT to the county broker; the CONNACK's reason code."""
    got: list[paho.ReasonCode] = []
    done = threading.Event()

    def on_connect(client, userdata, flags, reason, props):
        got.append(reason)
        done.set()

    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"probe-{time.monotonic_ns()}",
                         protocol=paho.MQTTv311)
    client.username_pw_set(username, password)
    client.on_connect = on_connect
    client.connect("127.0.0.1", c.mqtt_port)
    client.loop_start()
    try:
        assert done.wait(10), "no CONNACK from the county broker"
    finally:
        client.disconnect()
        client.loop_stop()
    return got[0]


def restart(c: County) -> None:
    c.broker.stop()
    c.broker = CountyBroker(c.cfg, c.broker.settings)
    c.broker.start()


def test_nats_conf_holds_a_bcrypt_hash_of_every_user_and_no_clear_password(county):
    text = (county.broker_folder / "nats.conf").read_text(encoding="utf-8")
    passwords = clear_passwords(county)
    for user, password in passwords.items():
        assert password and password not in text, f"{user}'s clear password is in nats.conf"
    users = conf_users(county)
    assert set(users) == set(passwords)
    for user, hashed in users.items():
        assert is_bcrypt(hashed, BCRYPT_COST), f"{user}: {hashed[:7]}... is not a $2a$ bcrypt hash, cost {BCRYPT_COST}"
        assert bcrypt.checkpw(passwords[user].encode(), hashed.encode()), f"{user}'s hash is not of its password"
    # NATS itself no longer warns (it did for the clear passwords)
    log = county.broker.log.read_text(encoding="utf-8", errors="replace")
    assert "Listening for MQTT clients" in log and "Plaintext passwords" not in log
    # the stored hashes beside the secrets and their key: the owner's only, and no clear password in them
    for path in [county.broker_folder / "bcrypt.key", county.broker_folder / "platform.bcrypt",
                 *(hall_hash_path(county.broker_folder, site) for site in HALLS)]:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
        assert not any(p in path.read_text(encoding="utf-8") for p in passwords.values()), path


def test_each_account_connects_over_mqtt_with_its_clear_password_and_a_wrong_one_is_refused(county):
    passwords = clear_passwords(county)
    hashes = conf_users(county)
    for user, password in passwords.items():
        assert connack(county, user, password) == "Success", user
        refused = connack(county, user, password + "x")
        assert refused.is_failure and refused == "Not authorized", (user, refused)
        assert connack(county, user, hashes[user]).is_failure, f"{user}: the hash itself let a client in"
    assert connack(county, "hall-town-a", passwords["hall-village-b"]).is_failure  # another hall's password


def test_a_hall_still_publishes_its_journal_to_the_platform_through_the_hashed_accounts(county):
    passwords = clear_passwords(county)
    got = threading.Event()
    platform = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="probe-platform", protocol=paho.MQTTv311)
    platform.username_pw_set("platform", passwords["platform"])
    subscribed = threading.Event()
    platform.on_connect = lambda cl, u, f, rc, p: cl.subscribe("hallq/+/journal", 0)
    platform.on_subscribe = lambda cl, u, mid, rcs, p: subscribed.set()
    platform.on_message = lambda cl, u, m: got.set() if m.topic == "hallq/town-a/journal" else None
    platform.connect("127.0.0.1", county.mqtt_port)
    platform.loop_start()
    hall = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="probe-town-a", protocol=paho.MQTTv311)
    hall.username_pw_set("hall-town-a", passwords["hall-town-a"])
    hall.connect("127.0.0.1", county.mqtt_port)
    hall.loop_start()
    try:
        assert subscribed.wait(10), "the platform's account could not subscribe"
        hall.publish("hallq/town-a/journal", b'{"seq": 1}', qos=1).wait_for_publish(10)
        assert got.wait(10), "the platform did not get the hall's journal entry"
    finally:
        for client in (hall, platform):
            client.disconnect()
            client.loop_stop()


def test_a_new_hall_secret_is_taken_at_the_next_write_and_unchanged_hashes_are_reused(county, monkeypatch):
    before = conf_users(county)
    old = hall_secret(county.broker_folder, "town-a", create=False)
    (county.broker_folder / "halls" / "town-a.secret").unlink()  # the operator's way to a new secret
    new = hall_secret(county.broker_folder, "town-a")
    assert new != old
    restart(county)
    after = conf_users(county)
    text = (county.broker_folder / "nats.conf").read_text(encoding="utf-8")
    assert new not in text and old not in text
    assert bcrypt.checkpw(new.encode(), after["hall-town-a"].encode())
    assert not bcrypt.checkpw(old.encode(), after["hall-town-a"].encode())
    assert connack(county, "hall-town-a", new) == "Success"
    assert connack(county, "hall-town-a", old).is_failure
    # the users whose password did not change keep their stored hash: no re-hashing of every hall at a start
    assert after["hall-village-b"] == before["hall-village-b"] and after["platform"] == before["platform"]
    # the platform's password changed in its reference: a new hash at the next write, and it connects
    monkeypatch.setenv("HALLQ_COUNTY_BROKER_PASSWORD", "a-new-platform-password")
    restart(county)
    latest = conf_users(county)
    assert latest["platform"] != after["platform"] and "a-new-platform-password" not in str(latest)
    assert connack(county, "platform", "a-new-platform-password") == "Success"
    assert connack(county, "platform", PLATFORM_PASSWORD).is_failure


def test_a_damaged_or_unkeyed_hash_store_is_rebuilt_not_trusted(tmp_path):
    c = County(tmp_path, "postgresql://hallq@127.0.0.1:1/unused", [], paper=HALLS)
    folder = c.broker_folder
    first = dict(USER.findall(nats_config(c.cfg, c.broker.settings)))
    hall_hash_path(folder, "town-a").write_text("v1 0000 $2a$10$" + "x" * 53 + "\n")  # not this password's
    (folder / "bcrypt.key").unlink()
    second = dict(USER.findall(nats_config(c.cfg, c.broker.settings)))
    passwords = clear_passwords(c)
    for user in ("platform", "hall-town-a", "hall-village-b"):
        assert second[user] != first[user], f"{user}: a hash stored under another key was reused"
        assert bcrypt.checkpw(passwords[user].encode(), second[user].encode())


def test_a_password_longer_than_bcrypt_checks_is_refused(tmp_path, monkeypatch):
    c = County(tmp_path, "postgresql://hallq@127.0.0.1:1/unused", [], paper=HALLS)
    monkeypatch.setenv("HALLQ_COUNTY_BROKER_PASSWORD", "p" * 73)
    with pytest.raises(CountyBrokerError, match="only the first 72"):
        nats_config(c.cfg, c.broker.settings)
