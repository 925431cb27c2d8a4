"""Staff accounts: managers manage clerks, administrators everyone; anyone changes their own password."""

from __future__ import annotations

from hallq.schema import Arr, Bool, Obj, Str
from queue_server.api import api, operation, request_session_token
from queue_server.api.hall import state
from queue_server.clients import request_client
from queue_server.domain import accounts as rules
from queue_server.readmodel import manager as reads

_JOB_NO = Str(pattern=r"[A-Za-z0-9]{2,16}", description="工号")
_PASSWORD = Str(min_len=1, max_len=200)
_ROLE = Str(enum=list(rules.ROLES), description="staff 窗口工作人员, manager 管理人员, admin 系统管理员")

ACCOUNT = Obj({"job_no": Str(), "name": Str(), "name_masked": Str(), "role": Str(), "active": Bool(),
               "must_change_password": Bool()}, extra=True)
CREATE = Obj({"job_no": _JOB_NO, "name": Str(min_len=1, max_len=40), "role": _ROLE, "password": _PASSWORD},
             required=["job_no", "name", "role", "password"])
RESET = Obj({"password": _PASSWORD}, required=["password"])
ROLE = Obj({"role": _ROLE}, required=["role"])
OWN_PASSWORD = Obj({"current": _PASSWORD, "new": _PASSWORD}, required=["current", "new"])
EMPTY = Obj({})
ERRORS = (400, 401, 403, 404, 409, 422)


@api.get("/accounts")
@operation("list_accounts", "Staff accounts with role, state and window", tag="accounts", auth="manager",
           response=Arr(ACCOUNT, max_items=None), errors=(401, 403))
def list_accounts(actor):
    return reads.accounts(state())


@api.post("/accounts")
@operation("create_account", "Create a staff account (managers: clerks; administrators: any role)", tag="accounts",
           auth="manager", body=CREATE, response=ACCOUNT, errors=ERRORS, status=201)
def create_account(actor, body):
    return state().service.accounts.create(actor, body["job_no"], body["name"], body["role"], body["password"])


@api.post("/accounts/<job_no>/password")
@operation("reset_password", "Set a temporary password (one sign-in) and end the account's sessions",
           tag="accounts", auth="manager", body=RESET, response=ACCOUNT, errors=ERRORS)
def reset_password(job_no, actor, body):
    return state().service.accounts.reset_password(actor, job_no, body["password"])


@api.post("/accounts/<job_no>/role")
@operation("set_role", "Change an account's role (administrators only)", tag="accounts", auth="manager",
           body=ROLE, response=ACCOUNT, errors=ERRORS)
def set_role(job_no, actor, body):
    return state().service.accounts.set_role(actor, job_no, body["role"])


@api.post("/accounts/<job_no>/deactivate")
@operation("deactivate_account", "Deactivate an account: its sessions end and it leaves its window",
           tag="accounts", auth="manager", body=EMPTY, response=ACCOUNT, errors=ERRORS)
def deactivate_account(job_no, actor, body):
    return state().service.accounts.set_active(actor, job_no, False)


@api.post("/accounts/<job_no>/activate")
@operation("activate_account", "Reactivate an account", tag="accounts", auth="manager", body=EMPTY,
           response=ACCOUNT, errors=ERRORS)
def activate_account(job_no, actor, body):
    return state().service.accounts.set_active(actor, job_no, True)


@api.post("/auth/password")
@operation("change_password", "Change your own password; your other sessions end, this one stays", tag="auth",
           auth="staff", body=OWN_PASSWORD, errors=(400, 401, 422),
           description="The only operation, with logout and whoami, open to a session whose password was set by "
                       "someone else (a new account, a reset): every other answers 403 password_change_required.")
def change_password(actor, body):
    return state().service.accounts.change_own_password(actor, body["current"], body["new"],
                                                        request_session_token(), request_client())
