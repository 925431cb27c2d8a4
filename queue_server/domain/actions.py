"""Every action the server writes to its journal, in one registry.

The journal is both the audit trail and the MQTT outbox (queue_server/publisher.py).
Each entry carries an action code (``no_show``): stable and machine-readable, what
the API, the exports and the logs carry. This module says, for each code,

* **what it makes stale** in the published hall state (hallq/contract.py): the
  publisher reads it to know what to republish at once. An action that makes
  nothing stale changes nothing a board shows, or shows it only at the next
  periodic refresh (``publisher.PERIODIC``, 15 s: waits and opening state move
  with time anyway);
* **how each language shows it** (简体 / 繁體 / English): the manager's journal page.

A new action is added here first: tests/queue_server/test_journal_actions.py fails
on a code written to the journal, or named in SQL, that is not registered here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Flag, auto

from hallq.i18n import Texts, pick, t3


class Stale(Flag):
    """What of the published hall state one journal entry makes stale."""

    CALL = auto()  # announced at once on hallq/<site>/calls (QoS 1, with its call sequence number)
    WINDOW = auto()  # the snapshot of the entry's window
    QUEUE = auto()  # the queue snapshot of the entry's business (a transfer's: both businesses, both windows)
    QUEUES = auto()  # every queue snapshot: a window's capacity changed, so every estimate may move
    BOARD = auto()  # the board
    NOTICES = auto()  # the notices
    NAMES = auto()  # business and window names, read again before the snapshots are rebuilt
    EVERYTHING = auto()  # every snapshot (a new business day, a new configuration)


NOTHING = Stale(0)
TICKET = Stale.WINDOW | Stale.QUEUE | Stale.BOARD  # a ticket moved: its window, its queue, the board
CALLED = Stale.CALL | TICKET  # … and the hall hears it
WINDOW = Stale.WINDOW | Stale.QUEUES | Stale.BOARD  # who serves changed: the window, every estimate, the board
DAY = Stale.EVERYTHING
CONFIG = Stale.EVERYTHING | Stale.NAMES
NOTICES = Stale.NOTICES


@dataclass(frozen=True)
class Action:
    code: str
    stale: Stale
    names: Texts  # one per language of hallq.i18n.LANGS
    legacy: bool = False  # no longer written; journals of earlier versions hold it (kept at least six months)

    def name(self, lang: str) -> str:
        return pick(self.names, lang)


def _a(code: str, stale: Stale, zh: str, hant: str, en: str, legacy: bool = False) -> Action:
    return Action(code, stale, t3(zh, hant, en), legacy)


_REGISTRY = (
    # tickets (queue_server/domain/tickets.py, windows.py, day.py)
    _a("issue", TICKET, "取号", "取號", "Ticket issued"),
    _a("cancel", TICKET, "取消号票", "取消號票", "Ticket cancelled"),
    _a("requeue", TICKET, "过号重排", "過號重排", "Re-queued"),
    _a("expire", TICKET, "号票作废", "號票作廢", "Ticket expired"),
    _a("call", CALLED, "叫号", "叫號", "Called"),
    _a("recall", CALLED, "重呼", "重呼", "Recalled"),
    _a("call_back", CALLED, "回呼", "回呼", "Called back"),
    _a("start", TICKET, "开始办理", "開始辦理", "Service started"),
    _a("complete", TICKET, "办结", "辦結", "Completed"),
    _a("no_show", TICKET, "过号", "過號", "No-show"),
    _a("transfer", TICKET, "转移", "轉移", "Transferred"),
    _a("hold", TICKET, "挂起", "掛起", "On hold"),
    # windows (queue_server/domain/windows.py, accounts.py)
    _a("pause", WINDOW, "暂停服务", "暫停服務", "Window paused"),
    _a("resume", WINDOW, "恢复服务", "恢復服務", "Window resumed"),
    _a("open_window", WINDOW, "开放窗口", "開放窗口", "Window opened"),
    _a("close_window", WINDOW, "关闭窗口", "關閉窗口", "Window closed"),
    _a("sign_in", WINDOW, "签到", "簽到", "Signed in"),
    _a("sign_out", WINDOW, "签退", "簽退", "Signed out"),
    _a("allocate", WINDOW, "调整窗口业务", "調整窗口業務", "Allocation changed"),
    # ratings (domain/ratings.py, rating_prompts.py)
    _a("rate", NOTHING, "评价", "評價", "Rated"),
    _a("rating_prompt", NOTHING, "邀请评价", "邀請評價", "Asked to rate"),
    # sign-in and accounts (queue_server/auth.py, domain/accounts.py, throttles.py, web/auth_pages.py)
    _a("login", NOTHING, "登录", "登入", "Signed in to the console"),
    _a("login_failed", NOTHING, "登录失败", "登入失敗", "Failed sign-in"),
    _a("login_refused", NOTHING, "登录被拒（过于频繁）", "登入被拒（過於頻繁）", "Sign-in refused (throttled)",
       legacy=True),  # replaced by sign_in_throttled when sign-ins were slowed down instead of refused
    _a("logout", NOTHING, "退出登录", "登出", "Signed out of the console"),
    _a("session_ended", NOTHING, "会话超时退出", "會話逾時登出", "Session ended (unused)"),
    _a("sign_in_throttled", NOTHING, "登录限速开始", "登入限速開始", "Sign-in throttle started"),
    _a("sign_in_throttle_ended", NOTHING, "登录限速结束", "登入限速結束", "Sign-in throttle ended"),
    _a("password_expired", NOTHING, "密码已过期", "密碼已過期", "Password expired"),
    _a("password_changed", NOTHING, "修改密码", "修改密碼", "Password changed"),
    _a("password_check_failed", NOTHING, "修改密码时当前密码错误", "修改密碼時當前密碼錯誤",
       "Wrong current password at a change"),
    _a("password_reset", NOTHING, "重置密码", "重設密碼", "Password reset"),
    _a("account_created", NOTHING, "新建账号", "新建帳號", "Account created"),
    _a("account_activated", NOTHING, "启用账号", "啟用帳號", "Account activated"),
    _a("account_deactivated", NOTHING, "停用账号", "停用帳號", "Account deactivated"),  # its windows: sign_out
    _a("role_changed", NOTHING, "修改角色", "修改角色", "Role changed"),
    # the hall (api/admin.py, domain/day.py, hall_settings.py, catalogue.py, hallsync.py, retention.py)
    _a("notice", NOTICES, "公告", "公告", "Notice"),
    _a("day_closed", DAY, "日终结束", "日終結束", "Day closed"),
    _a("day_reopened", DAY, "重新开始营业", "重新開始營業", "Day reopened"),
    _a("day_rolled_over", DAY, "跨日结转", "跨日結轉", "Day rolled over"),
    _a("clock_set", NOTHING, "设置时钟", "設定時鐘", "Clock set"),
    _a("config_applied", CONFIG, "载入配置", "載入設定", "Configuration applied"),
    _a("calendar_changed", NOTHING, "修改节假日", "修改節假日", "Calendar changed"),
    _a("hours_changed", NOTHING, "修改办公时间", "修改辦公時間", "Hours changed"),
    _a("capacity_changed", NOTHING, "修改预约容量", "修改預約容量", "Capacity changed"),
    _a("personal_data_erased", NOTHING, "删除到期个人信息", "刪除到期個人資料", "Personal data erased (retention)"),
    # tidal windows (domain/tidal.py; a lent or returned window also journals allocate)
    _a("tidal_pressure", NOTHING, "排队高峰", "排隊高峰", "Queue under pressure"),
    _a("tidal_eased", NOTHING, "高峰缓解", "高峰緩解", "Pressure eased"),
    _a("tidal_assign", NOTHING, "调配潮汐窗口", "調配潮汐窗口", "Tidal window lent"),
    _a("tidal_release", NOTHING, "潮汐窗口恢复", "潮汐窗口恢復", "Tidal window given back"),
    _a("tidal_auto", NOTHING, "自动调配开关", "自動調配開關", "Automatic assignment switched"),
    _a("tidal_alerts_seen", NOTHING, "提醒已阅", "提醒已閱", "Alerts seen"),
    # appointments (domain/appointments.py, no_shows.py; a check-in also journals issue)
    _a("appointment_booked", NOTHING, "预约", "預約", "Appointment booked"),
    _a("appointment_cancelled", NOTHING, "取消预约", "取消預約", "Appointment cancelled"),
    _a("appointment_checked_in", NOTHING, "预约签到", "預約簽到", "Appointment check-in"),
    _a("appointment_no_show", NOTHING, "预约爽约", "預約爽約", "Appointment missed"),
    _a("appointment_no_show_undone", NOTHING, "撤销爽约", "撤銷爽約", "Missed appointment undone"),
    _a("appointment_booking_suspended", NOTHING, "暂停预约资格", "暫停預約資格", "Booking suspended"),
    _a("appointment_suspension_lifted", NOTHING, "恢复预约资格", "恢復預約資格", "Booking suspension lifted"),
    # applications (domain/applications.py: application_<status>)
    _a("application_submitted", NOTHING, "提交申请", "提交申請", "Application submitted"),
    _a("application_pre_review", NOTHING, "预审", "預審", "Pre-review"),
    _a("application_accepted", NOTHING, "受理", "受理", "Accepted"),
    _a("application_correction", NOTHING, "补正通知", "補正通知", "Correction notice"),
    _a("application_rejected", NOTHING, "不予受理", "不予受理", "Rejected"),
    _a("application_result_ready", NOTHING, "办结待取", "辦結待取", "Result ready"),
    _a("application_delivered", NOTHING, "已送达", "已送達", "Delivered"),
    # bad-review follow-ups (domain/followups.py)
    _a("followup_opened", NOTHING, "差评待核实", "差評待核實", "Bad review opened"),
    _a("followup_verified", NOTHING, "差评已核实", "差評已核實", "Bad review verified"),
    _a("followup_fixed", NOTHING, "差评已整改", "差評已整改", "Bad review fixed"),
    _a("followup_closed", NOTHING, "差评已回访", "差評已回訪", "Bad review reported back"),
    _a("followup_appealed", NOTHING, "差评申诉", "差評申訴", "Bad review appealed"),
    _a("followup_appeal_decided", NOTHING, "申诉裁定", "申訴裁定", "Appeal decided"),
    # residents asking for help, devices (domain/attention.py)
    _a("help_requested", NOTHING, "群众求助", "群眾求助", "Help requested"),
    _a("help_taken", NOTHING, "前往帮忙", "前往幫忙", "Help on the way"),
    _a("device_health", NOTHING, "设备状态变化", "設備狀態變化", "Device health changed"),
)

ACTIONS: dict[str, Action] = {a.code: a for a in _REGISTRY}
if len(ACTIONS) != len(_REGISTRY):
    raise RuntimeError("an action is registered twice")

CALLS = tuple(a.code for a in _REGISTRY if Stale.CALL in a.stale)  # ('call', 'recall', 'call_back')
# the calls as SQL: exactly the predicate of the partial indexes journal_calls_day and
# journal_calls_business (schema/010), which SQLite uses only for the same expression
CALLS_SQL = "action IN ({})".format(", ".join(f"'{c}'" for c in CALLS))


def stale(code: str) -> Stale:
    """What an entry of ``code`` makes stale (nothing for a code not registered)."""
    a = ACTIONS.get(code)
    return a.stale if a is not None else NOTHING


def name(code: str, lang: str) -> str:
    """The action as ``lang`` shows it; a code not registered is shown as it is."""
    a = ACTIONS.get(code)
    return a.name(lang) if a is not None else code

