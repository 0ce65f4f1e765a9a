"""A request on its own thread, waited for with a deadline in all (``etm_client.calls``)."""

from __future__ import annotations

import threading
import time

import pytest

from etm_bridge.errors import NodeUnavailableError, NotFoundError
from etm_bridge.etm_client.calls import Call, Late
from etm_bridge.node.client import NodeClient

pytestmark = pytest.mark.unit

CLIENT = NodeClient("http://127.0.0.1:9", timeout_s=0.05)  # never asked: fn ignores it


def test_a_late_call_is_given_up_and_keeps_running_on_a_daemon_thread() -> None:
    release = threading.Event()
    call = Call(lambda _c: release.wait(5), CLIENT)
    began = time.monotonic()
    with pytest.raises(Late, match=r"did not answer within 0\.05 s") as late:
        call.result(began + CLIENT.timeout_s)
    assert isinstance(late.value, NodeUnavailableError)
    assert time.monotonic() - began < 1 and call.running
    release.set()
    assert call.result(time.monotonic() + 5) is True and not call.running


def test_a_call_returns_its_value_or_raises_its_error() -> None:
    assert Call(lambda c: c.url, CLIENT).result(time.monotonic() + 5) == CLIENT.url

    def missing(_c: NodeClient) -> None:
        raise NotFoundError("no such block")

    with pytest.raises(NotFoundError, match="no such block"):
        Call(missing, CLIENT).result(time.monotonic() + 5)
