"""就近办 on the kiosk: the take-number confirmation's line naming nearby open halls (kiosk.presenters.take_number)."""

from __future__ import annotations

from types import SimpleNamespace

from hallq.client import ApiError, Unreachable
from hallq.i18n import pick
from kiosk.presenters.take_number import nearby_line
from kiosk.texts import tr

DAHE = {"site": "dahe-town", "name": {"zh-Hans": "大河镇便民服务中心", "en": "Dahe Town"}, "waiting": 2,
        "open_now": True, "distance_km": 7.1}
SHUT = {"site": "shut", "name": {"zh-Hans": "关门镇"}, "waiting": 0, "open_now": False, "distance_km": 1.0}


def flow(answer=None, error: Exception | None = None, lang: str = "zh-Hans"):
    def nearby(business: str) -> dict:
        if error is not None:
            raise error
        return answer

    s = SimpleNamespace(api=SimpleNamespace(nearby=nearby), pick=lambda v: pick(v, lang))
    return SimpleNamespace(s=s, t=lambda key, **fmt: tr(key, lang, **fmt))


def test_the_line_names_the_nearest_open_halls_when_the_wait_here_reaches_the_threshold():
    answer = {"available": True, "show_after_minutes": 20, "halls": [SHUT, DAHE]}
    assert nearby_line(flow(answer), {"business": "alpha", "est_wait_minutes": 25}) == \
        "附近办事点：大河镇便民服务中心（7.1 公里，等候 2 人）"
    assert nearby_line(flow(answer, lang="en"), {"business": "alpha", "est_wait_minutes": 25}) == \
        "Nearby halls: Dahe Town (7.1 km, 2 waiting)"
    assert nearby_line(flow(answer), {"business": "alpha", "est_wait_minutes": 5}) == ""  # short wait here
    assert nearby_line(flow(answer), {"business": "alpha", "est_wait_minutes": None}) == ""


def test_no_line_without_a_fresh_answer_an_open_hall_or_a_server_that_knows_nearby():
    ticket = {"business": "alpha", "est_wait_minutes": 60}
    assert nearby_line(flow({"available": False, "show_after_minutes": None, "halls": []}), ticket) == ""
    assert nearby_line(flow({"available": True, "show_after_minutes": 0, "halls": [SHUT]}), ticket) == ""
    assert nearby_line(flow(error=ApiError(404, "not_found", {"en": "no"})), ticket) == ""
    assert nearby_line(flow(error=Unreachable("connection refused")), ticket) == ""
