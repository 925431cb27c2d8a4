"""The hall's side of the county: every journal entry on ``hallq/<site>/journal``, readable by no device.

Against a real server with its own Mosquitto: the server publishes each committed entry in order, with
its journal number, as the contract says, and it is the event ``GET /journal`` gives the county's key;
a kiosk, subscribed to the same topic, never gets one (the call that follows each reaches it: the
broker delivers in order, so a journal entry it could read would have come first).
"""

from __future__ import annotations

import hashlib
import json

import pytest

from hallq import contract
from hallq.mqtt_auth import SERVER, CredentialStore, Identity, credentials_folder
from hallq.testing import MqttCollector, mosquitto_binary
from tests.conftest import KIOSK_KEY, own_broker_hall

pytestmark = pytest.mark.skipif(mosquitto_binary() is None, reason="needs mosquitto (./run.sh installs it)")
COUNTY_KEY = "county-key-for-the-tiny-hall"


def test_the_server_publishes_every_journal_entry_and_no_device_reads_them(tmp_path, server_proc):
    config, port = own_broker_hall(tmp_path)
    config.write_text(config.read_text() + f'\n[[devices]]\nid = "county"\nkind = "county"\n'
                      f'key_sha256 = "{hashlib.sha256(COUNTY_KEY.encode()).hexdigest()}"\n')
    server = server_proc(config=config, mqtt_url="")
    store = CredentialStore(credentials_folder(server.data_dir))
    url = f"mqtt://127.0.0.1:{port}"
    server_side = MqttCollector(url, "hallq/tiny/journal", SERVER.username, store.password(SERVER, create=False))
    kiosk = Identity("kiosk", "kiosk-1")
    device_side = MqttCollector(url, "hallq/tiny/#", kiosk.username, store.password(kiosk, create=False))
    try:
        device_side.wait_for(lambda t, p: t.endswith("/status/server/queue") and p["state"] == "online")
        server.client(KIOSK_KEY).issue_ticket("alpha")
        clerk = server.client()
        clerk.login("101", "hallq-demo")
        clerk.window_action(1, "sign-in")
        clerk.call_next(1)
        _, issued = server_side.wait_for(lambda t, p: p["action"] == "issue")
        server_side.wait_for(lambda t, p: p["action"] == "call")
        device_side.wait_for(lambda t, p: t == "hallq/tiny/calls")
        assert not list(device_side.of("hallq/tiny/journal"))  # the kiosk may not read it
        assert issued["site"] == "tiny" and issued["ticket"] == "A001" and issued["actor"] == "kiosk:kiosk-1"
        heard = [p for _, p, *_ in server_side.messages]
        seqs = [p["seq"] for p in heard]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        for p in heard:
            contract.decode(contract.JOURNAL, json.dumps(p).encode())
        # the county's key reads the same events over HTTP, and nothing else
        page = server.client(COUNTY_KEY).get(f"/journal?after={seqs[0] - 1}&limit=1000")
        fetched = {e["seq"]: e for e in page["entries"]}
        for p in heard:
            assert contract.journal_event("tiny", fetched[p["seq"]]) == {k: v for k, v in p.items() if k != "version"}
        login = next(e for e in page["entries"] if e["action"] == "login")
        assert "client" not in login["data"]
        from hallq.client import ApiError

        with pytest.raises(ApiError) as refused:
            server.client(COUNTY_KEY).issue_ticket("alpha")
        assert refused.value.status == 403
    finally:
        server_side.close()
        device_side.close()
