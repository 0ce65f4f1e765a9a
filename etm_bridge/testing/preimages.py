"""Fresh secrets for tests and the conformance suite.

Production code draws every preimage from :class:`etm_bridge.app.context.AppContext`
(``new_secret``), the one source of secrets; tests and the adapter suite draw theirs here.
"""

from __future__ import annotations

import secrets

from etm_bridge.hashlock import PREIMAGE_LEN


def new_preimage() -> bytes:
    """A fresh 32-byte secret from the OS CSPRNG."""
    return secrets.token_bytes(PREIMAGE_LEN)
