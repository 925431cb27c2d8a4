"""Every action the server writes to its journal, in one registry.

The journal is both the audit trail and the MQTT outbox (queue_server/publisher.py).
Each entry carries an action code (``no_show``): stable and machine-readable, what
the API, the exports and the logs carry. This module says, for each code,

* **what it makes stale** in the published hall state (hallq/contract.py): the
  publisher reads it to know what to republish at once. An action that makes
  nothing stale changes nothing a board shows, or shows it only at the next
  periodic refresh (``publisher.PERIODIC``, 15 s: waits and opening state move
  with time anyway);
* **how each language shows it** (简体 / 繁體 / English): the message ``domain.journal.<code>`` of the
  catalogue ``domain.po`` (hallq/locale), shown on the manager's journal page.

A new action is added here first: tests/queue_server/test_journal_actions.py fails
on a code written to the journal, or named in SQL, that is not registered here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Flag, auto

from hallq.i18n import Texts, pick, texts
from queue_server.domain.context import any_of


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
    legacy: bool = False  # no longer written; journals of earlier versions hold it (kept at least six months)

    @property
    def names(self) -> Texts:
        """The action in each language the hall shows: ``domain.journal.<code>`` of the catalogue ``domain.po``."""
        return texts(f"domain.journal.{self.code}")

    def name(self, lang: str) -> str:
        return pick(self.names, lang)


def _a(code: str, stale: Stale, legacy: bool = False) -> Action:
    return Action(code, stale, legacy)


_REGISTRY = (
    # tickets (queue_server/domain/tickets.py, windows.py, day.py)
    _a("issue", TICKET),
    _a("cancel", TICKET),
    _a("requeue", TICKET),
    _a("expire", TICKET),
    _a("call", CALLED),
    _a("recall", CALLED),
    _a("call_back", CALLED),
    _a("start", TICKET),
    _a("complete", TICKET),
    _a("no_show", TICKET),
    _a("transfer", TICKET),
    # a ticket sent to a window by name, back in its business's queue when that window stopped serving
    _a("transfer_returned", TICKET),
    _a("hold", TICKET),
    # windows (queue_server/domain/windows.py, accounts.py)
    _a("pause", WINDOW),
    _a("resume", WINDOW),
    _a("open_window", WINDOW),
    _a("close_window", WINDOW),
    _a("sign_in", WINDOW),
    _a("sign_out", WINDOW),
    _a("allocate", WINDOW),
    # ratings (domain/ratings.py, rating_prompts.py)
    _a("rate", NOTHING),
    _a("rating_prompt", NOTHING),
    _a("rating_declined", NOTHING),  # the resident declined on the window's tablet (不评价): it offers that service no more
    # sign-in and accounts (queue_server/auth.py, domain/accounts.py, throttles.py, web/auth_pages.py)
    _a("login", NOTHING),
    _a("login_failed", NOTHING),
    # replaced by sign_in_throttled when sign-ins were slowed down instead of refused
    _a("login_refused", NOTHING, legacy=True),
    _a("logout", NOTHING),
    _a("session_ended", NOTHING),
    _a("sign_in_throttled", NOTHING),
    _a("sign_in_throttle_ended", NOTHING),
    _a("password_expired", NOTHING),
    _a("password_changed", NOTHING),
    _a("password_check_failed", NOTHING),
    _a("password_reset", NOTHING),
    _a("account_created", NOTHING),
    _a("account_activated", NOTHING),
    _a("account_deactivated", NOTHING),  # its windows: sign_out
    _a("role_changed", NOTHING),
    # the hall (api/admin.py, domain/day.py, hall_settings.py, catalogue.py, hallsync.py, retention.py)
    _a("notice", NOTICES),
    _a("day_closed", DAY),
    _a("day_reopened", DAY),
    _a("day_rolled_over", DAY),
    _a("clock_set", NOTHING),
    _a("config_applied", CONFIG),
    # guides edited by a manager, the catalogue imported as TOML (domain/guides.py): kiosks read GET /hall's catalogue
    _a("item_edited", NOTHING),
    _a("catalogue_imported", NOTHING),
    _a("calendar_changed", NOTHING),
    _a("hours_changed", NOTHING),
    _a("capacity_changed", NOTHING),
    _a("personal_data_erased", NOTHING),
    # tidal windows (domain/tidal.py; a lent or returned window also journals allocate)
    _a("tidal_pressure", NOTHING),
    _a("tidal_eased", NOTHING),
    _a("tidal_assign", NOTHING),
    _a("tidal_release", NOTHING),
    _a("tidal_auto", NOTHING),
    _a("tidal_alerts_seen", NOTHING),
    # appointments (domain/appointments.py, no_shows.py; a check-in also journals issue)
    _a("appointment_booked", NOTHING),
    _a("appointment_cancelled", NOTHING),
    _a("appointment_checked_in", NOTHING),
    _a("appointment_no_show", NOTHING),
    _a("appointment_no_show_undone", NOTHING),
    _a("appointment_booking_suspended", NOTHING),
    _a("appointment_suspension_lifted", NOTHING),
    # applications (domain/applications.py: application_<status>)
    _a("application_submitted", NOTHING),
    _a("application_pre_review", NOTHING),
    _a("application_accepted", NOTHING),
    _a("application_correction", NOTHING),
    _a("application_rejected", NOTHING),
    _a("application_result_ready", NOTHING),
    _a("application_delivered", NOTHING),
    _a("result_collection", NOTHING),  # 领取结果 at the kiosk: a number for the 出件 window (domain/collection.py)
    _a("package_submitted", NOTHING),  # 一件事 filed: one tracking number; each part journals application_submitted
    # 就近办 across halls (domain/routing.py): at the village, taken for another hall, forwarded (or refused there),
    # its progress there changed, the routed items' definitions; at the handling hall, filed from a village
    _a("application_routed", NOTHING),
    _a("application_forwarded", NOTHING),
    _a("application_route_refused", NOTHING),
    _a("routed_progress", NOTHING),
    _a("routed_item_updated", NOTHING),
    _a("routed_item_dropped", NOTHING),
    _a("application_received_routed", NOTHING),
    # a clerk or manager asked for a resident's full name (domain/resident_names.py): who, which case; never the name
    _a("resident_name_viewed", NOTHING),
    # bad-review follow-ups (domain/followups.py)
    _a("followup_opened", NOTHING),
    _a("followup_verified", NOTHING),
    _a("followup_fixed", NOTHING),
    _a("followup_closed", NOTHING),
    _a("followup_appealed", NOTHING),
    _a("followup_appeal_decided", NOTHING),
    _a("followup_contact_viewed", NOTHING),  # a manager saw the call-back phone (domain/contacts.py): who, which
    _a("followup_contacts_erased", NOTHING),  # call-back phones past [privacy] followup_contact_days (retention.py)
    # residents asking for help, devices (domain/attention.py)
    _a("help_requested", NOTHING),
    _a("help_taken", NOTHING),
    _a("device_health", NOTHING),
)

ACTIONS: dict[str, Action] = {a.code: a for a in _REGISTRY}
if len(ACTIONS) != len(_REGISTRY):
    raise RuntimeError("an action is registered twice")

CALLS = tuple(a.code for a in _REGISTRY if Stale.CALL in a.stale)  # ('call', 'recall', 'call_back')
# the calls as SQL: exactly the predicate of the partial indexes journal_calls_day and
# journal_calls_business (schema/025), which SQLite uses only for the same expression
CALLS_SQL = any_of("action", CALLS)


def stale(code: str) -> Stale:
    """What an entry of ``code`` makes stale (nothing for a code not registered)."""
    a = ACTIONS.get(code)
    return a.stale if a is not None else NOTHING


def name(code: str, lang: str) -> str:
    """The action as ``lang`` shows it; a code not registered is shown as it is."""
    a = ACTIONS.get(code)
    return a.name(lang) if a is not None else code

