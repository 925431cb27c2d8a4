"""The audit journal in the manager's words: action codes (``no_show``) as 过号 / 過號 / No-show.

The journal keeps codes (stable, machine-readable, what the API and exports
carry); the journal page shows these names, with the code beside it for
whoever searches the logs. A code missing here is shown as it is.
"""

from __future__ import annotations

from typing import Any

from hallq.i18n import LANGS

T = tuple[str, str, str]

ACTIONS: dict[str, T] = {
    "issue": ("取号", "取號", "Ticket issued"),
    "cancel": ("取消号票", "取消號票", "Ticket cancelled"),
    "requeue": ("过号重排", "過號重排", "Re-queued"),
    "expire": ("号票作废", "號票作廢", "Ticket expired"),
    "call": ("叫号", "叫號", "Called"),
    "recall": ("重呼", "重呼", "Recalled"),
    "call_back": ("回呼", "回呼", "Called back"),
    "start": ("开始办理", "開始辦理", "Service started"),
    "complete": ("办结", "辦結", "Completed"),
    "no_show": ("过号", "過號", "No-show"),
    "transfer": ("转移", "轉移", "Transferred"),
    "hold": ("挂起", "掛起", "On hold"),
    "pause": ("暂停服务", "暫停服務", "Window paused"),
    "resume": ("恢复服务", "恢復服務", "Window resumed"),
    "open_window": ("开放窗口", "開放窗口", "Window opened"),
    "close_window": ("关闭窗口", "關閉窗口", "Window closed"),
    "sign_in": ("签到", "簽到", "Signed in"),
    "sign_out": ("签退", "簽退", "Signed out"),
    "allocate": ("调整窗口业务", "調整窗口業務", "Allocation changed"),
    "rate": ("评价", "評價", "Rated"),
    "rating_prompt": ("邀请评价", "邀請評價", "Asked to rate"),
    "login": ("登录", "登入", "Signed in to the console"),
    "login_failed": ("登录失败", "登入失敗", "Failed sign-in"),
    "login_refused": ("登录被拒（过于频繁）", "登入被拒（過於頻繁）", "Sign-in refused (throttled)"),
    "logout": ("退出登录", "登出", "Signed out of the console"),
    "session_ended": ("会话超时退出", "會話逾時登出", "Session ended (unused)"),
    "sign_in_throttled": ("登录限速开始", "登入限速開始", "Sign-in throttle started"),
    "sign_in_throttle_ended": ("登录限速结束", "登入限速結束", "Sign-in throttle ended"),
    "password_expired": ("密码已过期", "密碼已過期", "Password expired"),
    "personal_data_erased": ("删除到期个人信息", "刪除到期個人資料", "Personal data erased (retention)"),
    "password_changed": ("修改密码", "修改密碼", "Password changed"),
    "password_check_failed": ("修改密码时当前密码错误", "修改密碼時當前密碼錯誤", "Wrong current password at a change"),
    "password_reset": ("重置密码", "重設密碼", "Password reset"),
    "account_created": ("新建账号", "新建帳號", "Account created"),
    "account_activated": ("启用账号", "啟用帳號", "Account activated"),
    "account_deactivated": ("停用账号", "停用帳號", "Account deactivated"),
    "role_changed": ("修改角色", "修改角色", "Role changed"),
    "notice": ("公告", "公告", "Notice"),
    "day_closed": ("日终结束", "日終結束", "Day closed"),
    "day_reopened": ("重新开始营业", "重新開始營業", "Day reopened"),
    "day_rolled_over": ("跨日结转", "跨日結轉", "Day rolled over"),
    "clock_set": ("设置时钟", "設定時鐘", "Clock set"),
    "config_applied": ("载入配置", "載入設定", "Configuration applied"),
    "calendar_changed": ("修改节假日", "修改節假日", "Calendar changed"),
    "hours_changed": ("修改办公时间", "修改辦公時間", "Hours changed"),
    "capacity_changed": ("修改预约容量", "修改預約容量", "Capacity changed"),
    "tidal_pressure": ("排队高峰", "排隊高峰", "Queue under pressure"),
    "tidal_eased": ("高峰缓解", "高峰緩解", "Pressure eased"),
    "tidal_assign": ("调配潮汐窗口", "調配潮汐窗口", "Tidal window lent"),
    "tidal_release": ("潮汐窗口恢复", "潮汐窗口恢復", "Tidal window given back"),
    "tidal_auto": ("自动调配开关", "自動調配開關", "Automatic assignment switched"),
    "tidal_alerts_seen": ("提醒已阅", "提醒已閱", "Alerts seen"),
    "appointment_booked": ("预约", "預約", "Appointment booked"),
    "appointment_cancelled": ("取消预约", "取消預約", "Appointment cancelled"),
    "appointment_checked_in": ("预约签到", "預約簽到", "Appointment check-in"),
    "appointment_no_show": ("预约爽约", "預約爽約", "Appointment missed"),
    "appointment_no_show_undone": ("撤销爽约", "撤銷爽約", "Missed appointment undone"),
    "appointment_booking_suspended": ("暂停预约资格", "暫停預約資格", "Booking suspended"),
    "appointment_suspension_lifted": ("恢复预约资格", "恢復預約資格", "Booking suspension lifted"),
    "application_submitted": ("提交申请", "提交申請", "Application submitted"),
    "application_pre_review": ("预审", "預審", "Pre-review"),
    "application_accepted": ("受理", "受理", "Accepted"),
    "application_correction": ("补正通知", "補正通知", "Correction notice"),
    "application_rejected": ("不予受理", "不予受理", "Rejected"),
    "application_result_ready": ("办结待取", "辦結待取", "Result ready"),
    "application_delivered": ("已送达", "已送達", "Delivered"),
    "followup_opened": ("差评待核实", "差評待核實", "Bad review opened"),
    "followup_verified": ("差评已核实", "差評已核實", "Bad review verified"),
    "followup_fixed": ("差评已整改", "差評已整改", "Bad review fixed"),
    "followup_closed": ("差评已回访", "差評已回訪", "Bad review reported back"),
    "followup_appealed": ("差评申诉", "差評申訴", "Bad review appealed"),
    "followup_appeal_decided": ("申诉裁定", "申訴裁定", "Appeal decided"),
    "help_requested": ("群众求助", "群眾求助", "Help requested"),
    "help_taken": ("前往帮忙", "前往幫忙", "Help on the way"),
    "device_health": ("设备状态变化", "設備狀態變化", "Device health changed"),
}

_YES_NO = {True: ("是", "是", "yes"), False: ("否", "否", "no")}


def _index(lang: str) -> int:
    return LANGS.index(lang) if lang in LANGS else 0


def action_name(code: str, lang: str) -> str:
    names = ACTIONS.get(code)
    return names[_index(lang)] if names else code


def details(data: dict[str, Any], lang: str) -> str:
    """``k=v`` pairs a person can read: empty values left out, booleans as 是/否, lists joined."""
    out = []
    for k, v in data.items():
        if v is None or v == "" or v == [] or v == {}:
            continue
        if isinstance(v, bool):
            v = _YES_NO[v][_index(lang)]
        elif isinstance(v, list):
            v = "、".join(str(x) for x in v)
        elif isinstance(v, dict):
            v = ", ".join(f"{a}: {b}" for a, b in v.items())
        out.append(f"{k}={v}")
    return ", ".join(out)
