"""A notice's end (``until``) is kept in the hall's time zone, so the boards' text comparison with now holds whatever
zone it was given in; digits that are not ASCII are refused (the schema's patterns match ASCII digits only). Found
by an input audit: an end in UTC ("…Z") was compared as if it were the hall's time, and "２０２６-…" passed the
pattern and was stored, never to expire."""

from __future__ import annotations

from datetime import timedelta


def test_an_end_given_in_utc_ends_the_notice_at_that_moment(api, clock):
    made = api.ok("post", "/notices", {"text": {"zh-Hans": "今日上午十点停止取号"}, "until": "2026-11-23T02:00:00Z"},
                  as_="900", status=201)
    shown = api.ok("get", "/notices")["notices"]
    assert [(n["id"], n["until"]) for n in shown] == [(made["id"], "2026-11-23T10:00:00.000+08:00")]
    clock.set(clock.now() + timedelta(minutes=29))  # 09:59 in the hall: still shown
    assert len(api.ok("get", "/notices")["notices"]) == 1
    clock.set(clock.now() + timedelta(minutes=2))  # 10:01 (02:01 UTC): gone
    assert api.ok("get", "/notices")["notices"] == []


def test_digits_that_are_not_ascii_are_refused(api):
    for until in ("２０２６-11-23T10:00:00+08:00", "2026-11-23T1٠:00:00+08:00"):
        r = api.post("/notices", {"text": {"zh-Hans": "x"}, "until": until}, as_="900")
        assert r.status_code == 400 and r.get_json()["error"]["code"] == "invalid_fields", until
    assert api.ok("get", "/notices")["notices"] == []
