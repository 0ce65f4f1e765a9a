"""What a long-running watcher tells the world besides its output: the node endpoints it names,
the next deadline of each swap, the user's notify command, and its log file.

- :func:`endpoint_of`: ``(adapter entry point, "http://127.0.0.1:18443")`` for a leg, from the
  config, without the credentials a URL may carry.
- :func:`next_deadline`: the height (and chain) by which something must happen in a swap, what,
  and who acts: the secret must be revealed before the counter lock's reveal deadline, the
  operator must claim the user's lock before it can be refunded, a lock can be refunded after
  its timelock. Pure.
- :class:`DeadlineWatch`: each tick, the notify command when a deadline we must meet is near.
- :class:`Notifier`: runs ``--notify-cmd`` once per (swap, event, deadline), without a shell,
  with the facts in environment variables (``ETM_BRIDGE_SWAP_ID``, ``ETM_BRIDGE_EVENT``,
  ``ETM_BRIDGE_MESSAGE``, ``ETM_BRIDGE_DEADLINE_CHAIN``, ``ETM_BRIDGE_DEADLINE_HEIGHT``,
  ``ETM_BRIDGE_DEADLINE_IN_S``): nothing a counterparty or a node says reaches a command line.
- :func:`watch_log`: a logger writing to ``<home>/logs/watch.log``, rotated at 1 MiB, 5 kept.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from logging.handlers import RotatingFileHandler
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ..errors import EtmBridgeError
from ..swaps.core.fsm import SwapState
from ..swaps.core.model import SwapRecord
from ..swaps.core.states import TERMINAL
from ..swaps.runtime.watcher import NODE_DOWN, Watcher
from .context import AppContext
from .durations import duration_text

log = logging.getLogger(__name__)

LOG_FILE = "watch.log"
LOG_MAX_BYTES = 1 << 20
LOG_BACKUPS = 5
#: a notify command gets this long before it is left to finish on its own
NOTIFY_TIMEOUT_S = 30.0
S = SwapState


def _clean_url(url: str) -> str:
    """``url`` without ``user:password@``."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def endpoint_of(ctx: AppContext, chain: str) -> tuple[str, str]:
    """(node kind, where it is) of leg ``chain``: its adapter and configured URL(s)."""
    kind = ctx.adapter_entry(chain)
    if ctx.config is None or chain in ctx.given:
        return kind, f"leg {chain!r}"
    try:
        options = ctx.config.chain_options(chain)[1]
    except EtmBridgeError:  # a name is all we want; the config error shows elsewhere
        return kind, f"leg {chain!r}"
    urls = options.get("urls") or [options.get("rpc_url") or options.get("url") or chain]
    return kind, ", ".join(_clean_url(str(u)) for u in urls)


@dataclass(frozen=True)
class Deadline:
    """By ``height`` on ``chain`` (about ``in_s`` from now), ``what`` must (or may) happen."""

    chain: str
    height: int
    what: str
    blocks_left: int
    in_s: int
    needs_us: bool  # our side must act before it (else: a refund becomes possible after it)


def next_deadline(
    rec: SwapRecord, tips: dict[str, int], block_time_s: dict[str, int]
) -> Deadline | None:
    """The next deadline of an open swap on the legs' chains (module docstring); None when the
    swap has ended or its chains' tips are unknown."""
    if rec.state in TERMINAL:
        return None
    t = rec.terms
    u, c = t.user_leg, t.counter_leg
    user = rec.role.value == "user"
    options: list[tuple[str, int, str, bool]] = []
    revealed = rec.state is S.SECRET_REVEALED
    if c.timelock_height and not revealed and rec.state not in (S.EXPIRED, S.CREATED):
        reveal_by = c.timelock_height - t.reveal_margin_blocks
        options.append((c.chain, reveal_by, "the secret must be revealed (counter lock "
                        "claimed) before this height", user))  # fmt: skip
    if revealed and not user:
        options.append((u.chain, u.timelock_height, "claim the user's lock before it can be "
                        "refunded, at this height", True))  # fmt: skip
    own = u if user else c
    if own.timelock_height:
        options.append((own.chain, own.timelock_height, "our lock can be refunded after this "
                        "height", False))  # fmt: skip
    found = []
    for chain, height, what, ours in options:
        if chain not in tips:
            continue
        left = height - tips[chain]
        if left < 0:
            continue
        found.append(Deadline(chain, height, what, left, left * block_time_s.get(chain, 0), ours))
    return min(found, key=lambda d: d.in_s, default=None)


class Notifier:
    """Runs the user's notify command once per key (see the module docstring)."""

    def __init__(self, command: str | None) -> None:
        self.argv = shlex.split(command) if command else []
        self.fired: set[tuple[str, ...]] = set()
        self.running: list[subprocess.Popen[bytes]] = []

    def notify(
        self, swap_id: str, event: str, message: str, deadline: Deadline | None = None,
        key: tuple[str, ...] = (),
    ) -> bool:  # fmt: skip
        """Run the command for (``swap_id``, ``event``, ``key``) unless already run; True if
        it was started."""
        full = (swap_id, event, *key)
        if not self.argv or full in self.fired:
            return False
        self.fired.add(full)
        env = {
            **os.environ,
            "ETM_BRIDGE_SWAP_ID": swap_id,
            "ETM_BRIDGE_EVENT": event,
            "ETM_BRIDGE_MESSAGE": message,
            "ETM_BRIDGE_DEADLINE_CHAIN": deadline.chain if deadline else "",
            "ETM_BRIDGE_DEADLINE_HEIGHT": str(deadline.height) if deadline else "",
            "ETM_BRIDGE_DEADLINE_IN_S": str(deadline.in_s) if deadline else "",
        }
        self.reap()
        try:
            self.running.append(subprocess.Popen(self.argv, env=env, stdin=subprocess.DEVNULL))
        except OSError as exc:
            log.error("notify command %s failed to start: %s", self.argv[0], exc)
            return False
        return True

    def reap(self) -> None:
        """Forget finished commands (no zombies)."""
        self.running = [p for p in self.running if p.poll() is None]

    def wait(self, timeout_s: float = NOTIFY_TIMEOUT_S) -> None:
        """Wait for the commands still running (at the end of ``watch``)."""
        for proc in self.running:
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                log.error("notify command %s still running after %.0f s", self.argv[0], timeout_s)
        self.reap()


class DeadlineWatch:
    """Each tick: every open swap's next deadline we must meet; the notify command (and a line)
    when it is near, once per deadline. Block times are read once per chain."""

    def __init__(self, watcher: Watcher, notifier: Notifier, before_s: float) -> None:
        self.watcher, self.notifier, self.before_s = watcher, notifier, before_s
        self.block_time_s: dict[str, int] = {}

    def _block_times(self) -> None:
        for chain, adapter in self.watcher.adapters.items():
            if chain not in self.block_time_s:
                try:
                    self.block_time_s[chain] = adapter.info().block_time_s
                except NODE_DOWN:
                    continue

    def check(self, say: Callable[[str], None]) -> None:
        self._block_times()
        tips = {c: h.tip for c, h in self.watcher.health.items() if h.tip is not None}
        for rec in self.watcher.records.values():
            d = next_deadline(rec, tips, self.block_time_s)
            if d is None or not d.needs_us or d.in_s > self.before_s:
                continue
            text = (
                f"swap {rec.swap_id}: deadline near: {d.what} ({d.chain} height {d.height}, "
                f"{d.blocks_left} blocks, about {duration_text(d.in_s)})"
            )
            if self.notifier.notify(rec.swap_id, "deadline_near", text, d,
                                    (d.chain, str(d.height))):  # fmt: skip
                say(text)


def watch_log(log_dir: Path | None) -> logging.Logger:
    """The watcher's human log: ``<log_dir>/watch.log``, rotated (module docstring); without a
    directory (an injected context) a logger that writes nowhere."""
    logger = logging.getLogger("etm_bridge.watch")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    if log_dir is None:
        logger.addHandler(logging.NullHandler())
        return logger
    log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    handler = RotatingFileHandler(
        log_dir / LOG_FILE, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger.addHandler(handler)
    return logger
