"""The configuration both brokers get: a hall's bridge to the county (hallq/bridge.py), the county's NATS
(county/broker.py), single node and clustered, checked by nats-server itself."""

from __future__ import annotations

import os
import stat
import subprocess

import pytest

from county.broker import BrokerSettings, Cluster, bridge_files, hall_secret, nats_binary, nats_config
from county.config import load_county
from hallq import bridge
from hallq.broker import BrokerStartError, HallBroker
from hallq.hallconfig import load_hall
from launcher.cli import main as hallq
from tests.county.test_store import SAMPLE


@pytest.fixture
def cfg(monkeypatch, tmp_path):
    secret = tmp_path / "platform.secret"
    secret.write_text("platform-pw\n")
    text = SAMPLE.read_text(encoding="utf-8").replace("file:/etc/hallq/county/broker-platform.secret", f"file:{secret}")
    (tmp_path / "county.toml").write_text(text, encoding="utf-8")
    return load_county(tmp_path / "county.toml", need_database=False)


def test_bridge_config_is_written_for_a_hall_of_the_county_only(cfg, tmp_path):
    out = tmp_path / "dahe"
    toml = bridge_files(cfg, tmp_path / "broker", "dahe-town", "county-mq.example:8883", out, tls=True,
                        cafile="/etc/hallq/county-ca.crt")
    assert stat.S_IMODE(os.stat(out / "county-bridge.secret").st_mode) == 0o600
    b = bridge.load(out)
    assert b == bridge.Bridge(address="county-mq.example:8883", username="hall-dahe-town",
                              password=hall_secret(tmp_path / "broker", "dahe-town"), tls=True,
                              cafile="/etc/hallq/county-ca.crt")
    assert toml.read_text().count(b.password) == 0  # the secret is in its own file, not the toml
    lines = bridge.block("dahe-town", b)
    topics = [line for line in lines if line.startswith("topic ")]
    assert topics == ["topic journal out 1 hallq/dahe-town/ hallq/dahe-town/",
                      "topic status/server/queue out 1 hallq/dahe-town/ hallq/dahe-town/"]  # out only: nothing comes in
    assert "try_private false" in lines and "bridge_cafile /etc/hallq/county-ca.crt" in lines
    with pytest.raises(Exception, match="not in"):
        bridge_files(cfg, tmp_path / "broker", "somewhere-else", "x:1", out)


@pytest.mark.parametrize("text, problem", [
    ('[bridge]\naddress = "no-port"\nusername = "u"\npassword_file = "s"\n', "host:port"),
    ('[bridge]\naddress = "a:1"\nusername = "u"\n', "needs username and password_file"),
    ('[bridge]\naddress = "a:1"\nusername = "u"\npassword_file = "missing"\n', "cannot read password_file"),
    ('[bridge]\naddress = "a:1"\nusername = "u"\npassword_file = "s"\nport = 3\n', "unknown keys"),
    ("[bridge\n", "not valid TOML"),
])
def test_a_wrong_bridge_file_says_what_is_wrong(tmp_path, text, problem):
    (tmp_path / "s").write_text("pw\n")
    (tmp_path / "county-bridge.toml").write_text(text)
    with pytest.raises(bridge.BridgeConfigError, match=problem):
        bridge.load(tmp_path)


def test_a_cluster_address_list_fails_over(tmp_path):
    (tmp_path / "s").write_text("pw\n")
    (tmp_path / "county-bridge.toml").write_text('[bridge]\naddress = ["mq1:8883", "mq2:8883", "mq3:8883"]\n'
                                                 'username = "hall-x"\npassword_file = "s"\n')
    assert "address mq1:8883 mq2:8883 mq3:8883" in bridge.block("x", bridge.load(tmp_path))


def test_the_hall_broker_refuses_to_start_with_a_broken_bridge(tmp_path):
    from tests.conftest import own_broker_hall

    config, _ = own_broker_hall(tmp_path)
    (config.parent / "county-bridge.toml").write_text('[bridge]\naddress = "a:1"\nusername = "u"\n')
    with pytest.raises(BrokerStartError, match="bridge to its county is misconfigured"):
        HallBroker(load_hall(config), tmp_path / "data").configure()


def test_nats_accepts_the_single_node_and_the_clustered_configuration(cfg, tmp_path):
    single = BrokerSettings(folder=tmp_path / "one", mqtt_listen="127.0.0.1:18883")
    nodes = [BrokerSettings(folder=tmp_path / f"n{i}", mqtt_listen=f"0.0.0.0:{18883 + i}", server_name=f"county-{i}",
                            cluster=Cluster("zhongshan", f"0.0.0.0:{16222 + i}",
                                            tuple(f"nats-route://127.0.0.1:{16222 + j}" for j in range(3) if j != i)))
             for i in range(3)]
    for s in (single, *nodes):
        s.folder.mkdir(parents=True)
        conf = s.folder / "nats.conf"
        conf.write_text(nats_config(cfg, s))
        r = subprocess.run([nats_binary(), "-c", str(conf), "-t"], capture_output=True, text=True, timeout=20)
        assert r.returncode == 0, r.stdout + r.stderr
    text = (nodes[0].folder / "nats.conf").read_text()
    assert "stream_replicas: 3" in text and 'name: "zhongshan"' in text
    # each hall may publish its own journal and availability, and read nothing
    assert '{user: "hall-dahe-town", password: ' in text
    assert '"hallq.dahe-town.journal", "hallq.dahe-town.status.server.queue"]}, subscribe: {deny: [">"]}' in text


def test_the_platform_command_is_there(capsys):
    with pytest.raises(SystemExit) as e:
        hallq(["platform", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for action in ("serve", "migrate", "broker", "bridge-config"):
        assert action in out
