"""One request to one ETM endpoint on its own daemon thread, waited for with a deadline in all.

The ``requests`` timeout bounds each socket operation, not the whole answer: an endpoint that
trickles its status line, headers or body a byte at a time never trips it and would hold the
caller (the swap watcher) for as long as it likes. ``etm_client.endpoints.NodeSet`` runs every
request in a :class:`Call` and stops waiting at the endpoint's ``timeout_s``; the
thread left behind is a daemon (it never holds up the process's exit), and the set asks that
endpoint nothing more while it runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from ..errors import NodeUnavailableError
from ..node.client import NodeClient


class Call:
    """``fn(client)`` on a daemon thread: waited for at most the endpoint's timeout, in all
    (a node that trickles its answer a byte at a time never trips the per-read socket timeout,
    and a daemon thread left behind does not hold up the process's exit)."""

    def __init__(self, fn: Callable[[NodeClient], Any], client: NodeClient) -> None:
        self.url = client.url
        self.timeout_s = client.timeout_s
        self._done = threading.Event()
        self._value: Any = None
        self._error: BaseException | None = None
        thread = threading.Thread(target=self._run, args=(fn, client), daemon=True)
        thread.name = "etm-endpoint"
        thread.start()

    def _run(self, fn: Callable[[NodeClient], Any], client: NodeClient) -> None:
        try:
            self._value = fn(client)
        except BaseException as exc:  # handed to the waiting thread
            self._error = exc
        finally:
            self._done.set()

    @property
    def running(self) -> bool:
        return not self._done.is_set()

    def result(self, deadline: float) -> Any:
        """The result (or the call's exception), or Late after ``deadline`` (monotonic)."""
        if not self._done.wait(max(0.0, deadline - time.monotonic())):
            raise Late(f"ETM endpoint {self.url} did not answer within {self.timeout_s:g} s")
        if self._error is not None:
            raise self._error
        return self._value


class Late(NodeUnavailableError):
    """The endpoint did not finish answering within its timeout."""
