"""Which vaults of a chain ETM accepts value into, and which outputs are the committee's
(design-14 sections 2.2, 4.5), derived from the committees in state.

Every committee (``custody_epochs``) has one vault per chain, computed by the chain's
:class:`~.spec.CustodySpec` (``spec.vault(committee, cfg)``). A deposit may pay the **newest**
committee's vault, or the one before it while the newest is at most ``grace_blocks`` old (a
deposit built just before a rotation still lands); anything else (an operator key, an older
vault) is refused. Every committee's vault counts as the committee's when a proven spend pays
it (:func:`all_vaults`: change, claims and sweeps become vault outputs of that epoch; of the
newest epoch when the same members were elected again, so the same script).

Also :func:`overlay`: a write-buffering :class:`~etm_bridge.chain.state.State` over a read-only
view, so the custody port can run the state functions of :mod:`.mandate_store` inside an
exchange planner and hand their writes to the planner's plan. Pure.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..chain.state import State, StateView
from ..errors import CustodyError
from . import records
from .params import CustodyParams
from .plans import current_epoch
from .spec import CustodySpec, VaultInfo

Specs = Callable[[], Mapping[str, CustodySpec]]


@dataclass(frozen=True)
class ChainPart:
    """A custody chain's spec with its parsed genesis block ``plugins.custody.<ticker>``."""

    ticker: str
    spec: CustodySpec
    cfg: Any

    def setting(self, name: str, default: Any) -> Any:
        """A chain setting the core needs (``spec.extra[name](cfg)``), e.g. ``fee_rate``."""
        read = self.spec.extra.get(name)
        return default if read is None else read(self.cfg)


def chain_part(params: CustodyParams, ticker: str, specs: Specs) -> ChainPart:
    spec = specs().get(ticker)
    if spec is None or ticker not in params.chains:
        raise CustodyError(
            records.Reason.BAD_PARAMETER,
            f"{ticker} is not under custody here, or no installed chain profile has its custody "
            "spec",
        )
    cfg = spec.genesis.from_json(params.chain_parts.get(ticker) or {})
    return ChainPart(ticker, spec, cfg)


def committee_of(view: StateView, epoch: int) -> records.Committee:
    raw = view.get_json(records.EPOCHS, records.epoch_key(epoch))
    return records.decode(records.Committee, raw)


def vault_of(part: ChainPart, committee: records.Committee) -> VaultInfo | None:
    if part.ticker not in committee.keys:
        return None
    return part.spec.vault(committee, part.cfg)


def accepting(
    view: StateView, params: CustodyParams, part: ChainPart, height: int
) -> dict[bytes, int]:
    """destination -> epoch of the vaults a deposit may pay at ``height`` (see the module)."""
    newest = current_epoch(view)
    if newest is None:
        return {}
    out: dict[bytes, int] = {}
    current = committee_of(view, newest)
    if (v := vault_of(part, current)) is not None:
        out[v.destination] = newest
    in_grace = newest > 0 and height <= current.start_height + params.grace_blocks
    if in_grace and (v := vault_of(part, committee_of(view, newest - 1))) is not None:
        out.setdefault(v.destination, newest - 1)
    return out


def all_vaults(view: StateView, part: ChainPart) -> dict[bytes, int]:
    """destination -> epoch of every committee's vault on the chain; a vault two epochs share
    (the same members elected again) is the **newest**'s, whose committee spends it now (the
    oldest's would leave its outputs to no selection)."""
    out: dict[bytes, int] = {}
    for _, raw in view.scan(records.EPOCHS):  # ascending epochs (u32 BE keys)
        committee = records.decode(records.Committee, json.loads(raw))
        if (v := vault_of(part, committee)) is not None:
            out[v.destination] = committee.epoch
    return out


def overlay(view: StateView) -> State:
    """A State buffering writes to the custody tables over ``view`` (see the module)."""
    return State(view, records.TABLES)


def changes(state: State) -> dict[tuple[str, bytes], bytes | None]:
    return dict(state.changes())
