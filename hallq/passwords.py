"""The rules of a good password, shared by a hall's staff accounts (queue_server/domain/accounts.py), the launcher's
first accounts and the county platform's accounts (county/passwords.py): at least 8 characters of three kinds of four
(GB/T 22239-2019 level 3 as assessed), not containing the account's own name, not a common password dressed up."""

from __future__ import annotations

import re

MIN_PASSWORD = 8
MIN_KINDS = 3  # of four: lowercase, uppercase, digits, symbols (GB/T 22239-2019 level 3 as assessed)
_KINDS = (r"[a-z]", r"[A-Z]", r"\d", r"[^A-Za-z\d]")
# the letters of passwords that pass the kinds and are still guessed first (the lists of leaked
# passwords, pinyin ones, keyboard runs, this product's name): "P@ssw0rd1!" is "password"
COMMON_WORDS = frozenset("""
    a aa aaa ab abc abcd abcde abcdef abcdefg abcdefgh qaz qazwsx qazwsxedc wsx qwe qwer qwert qwerty qwertyu
    qwertyuiop asd asdf asdfg asdfgh asdfghjkl zxc zxcv zxcvb zxcvbn zxcvbnm password passwd pass pwd passw
    admin administrator root system sys manager user guest test tester demo welcome letmein iloveyou love
    woaini wangyi zhongguo china beijing shanghai huawei xiaomi baidu tencent qq wechat weixin hallq hallqdemo
    sa sql oracle mysql super superman monkey dragon master login changeme default secret abc
""".split())
_LEET = str.maketrans({"@": "a", "$": "s", "0": "o", "3": "e", "1": "i", "!": "i", "4": "a", "5": "s", "7": "t"})


def password_problem(password: str, job_no: str | None = None) -> str | None:
    """Why a password is too weak (the key of the message saying so, ``{min_length}`` its field), or None.

    At least 8 characters of three kinds (lowercase, uppercase, digits, symbols); not containing
    the job number; not a common password dressed up with capitals, digits and symbols.

    >>> password_problem("Window-2026") is None
    True
    >>> password_problem("P@ssw0rd123")
    'error.password.common'
    """
    kinds = sum(bool(re.search(p, password)) for p in _KINDS)
    if len(password) < MIN_PASSWORD or kinds < MIN_KINDS:
        return "error.password.too_simple"
    lower = password.lower()
    if job_no and len(job_no) >= 3 and (job_no.lower() in lower or job_no.lower()[::-1] in lower):
        return "error.password.job_no"
    letters = re.sub(r"[^a-z]", "", lower)
    # symbols and digits standing for letters count only between letters: "adm1n" is "admin", "admin1" too
    dressed = re.sub(r"[^a-z]", "", re.sub(r"(?<=[a-z])[@$0134!57]+(?=[a-z])", lambda m: m.group().translate(_LEET),
                                           lower))
    if letters in COMMON_WORDS or dressed in COMMON_WORDS:
        return "error.password.common"
    return None
