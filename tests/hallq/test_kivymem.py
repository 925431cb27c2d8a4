"""hallq.kivymem.release_compiler_code: a library's clean read-only pages leave the process's RSS, its
written (relocated) pages stay, and its code runs as before (faulted back in from the file).

Run on OpenSSL's libcrypto in a fresh interpreter (hashlib maps it): the board and the kiosk do it to
libLLVM, which only a Kivy process on Mesa's llvmpipe maps.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap

import pytest

from hallq.testing import ROOT

CODE = """
import hashlib, json
from hallq.kivymem import _mappings, release_compiler_code

def mappings():
    with open("/proc/self/smaps") as f:
        return [m for m in _mappings(f.read()) if "libcrypto" in m[3]]

before = mappings()
released = release_compiler_code(("libcrypto",))
after = mappings()
digest = hashlib.sha256(b"hallq").hexdigest()
print(json.dumps({"before": before, "after": after, "released": released, "digest": digest}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="madvise and /proc/self/smaps are Linux's")
def test_clean_read_only_pages_are_released_and_written_ones_kept():
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(CODE)], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["digest"] == hashlib.sha256(b"hallq").hexdigest()  # libcrypto's code, read back in, runs
    clean = [(b, a) for b, a in zip(got["before"], got["after"]) if "w" not in b[2] and b[4] and not b[5]]
    kept = [(b, a) for b, a in zip(got["before"], got["after"]) if "w" in b[2] or b[5]]
    assert clean and got["released"] == sum(b[4] for b, _ in clean)
    assert all(a[4] < b[4] for b, a in clean)  # gone, but for what sha256 faulted back in
    assert all(a[4] == b[4] and a[5] == b[5] for b, a in kept)  # the relocated and the writable pages stay
