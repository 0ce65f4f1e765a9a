"""Python's recursion limit, kept where no decoder can overflow the C stack.

py_ecc (a dependency of the web3 libraries) raises ``sys.setrecursionlimit`` to 100,000 the
first time it is imported. C code that recurses once per nesting level, ``json.loads`` first,
then overflows the main thread's 8 MiB C stack long before it reaches that limit: 400,000 ``[``
in one transaction payload killed the node with SIGSEGV instead of raising (issue 11, item 3).

Importing ``etm_bridge`` runs :func:`import_py_ecc_restoring_limit` (``etm_bridge/__init__.py``):
py_ecc is imported there, once, and the limit is put back to :data:`SAFE_RECURSION_LIMIT`.
A module body runs only once per process, so no later import of those libraries can raise
it again; ``node run`` also calls :func:`restore_recursion_limit` before it serves.

Nothing in etm-bridge needs a deeper stack: every decoder of untrusted bytes is iterative or runs
behind a depth cap far below this limit (``jsonsafe``, the chain folders' bounded decoders), and
``tests/unit/test_recursion_limit.py`` checks the limit in a fresh node-like process.
"""

from __future__ import annotations

import contextlib
import sys

#: CPython's own default: deep enough for every library we use, shallow enough that the C
#: recursion of one Python-level frame (``json`` scanner, ``repr``, ``pickle``) fits the stack.
SAFE_RECURSION_LIMIT = 1_000


def restore_recursion_limit() -> int:
    """Lower the limit to :data:`SAFE_RECURSION_LIMIT` if something raised it; returns it."""
    if sys.getrecursionlimit() > SAFE_RECURSION_LIMIT:
        sys.setrecursionlimit(SAFE_RECURSION_LIMIT)
    return sys.getrecursionlimit()


def import_py_ecc_restoring_limit() -> None:
    """Import py_ecc now (it raises the limit as a side effect), then restore the limit."""
    with contextlib.suppress(ImportError):  # not installed: nothing will raise the limit
        import py_ecc  # noqa: F401  (imported for its side effect, undone below)
    restore_recursion_limit()
