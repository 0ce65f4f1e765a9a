"""Binding a foreign key to the wallet's ETM address (use cases): ``bind`` / ``unbind``.

The proof signs :func:`etm_bridge.exchange.binding.binding_message` with the wallet's key of
the chain (its own signature scheme: its profile's ``binding``). The nonce must grow with every
proof of this address on this chain: it is the last nonce the node recorded (which outlives an
unbind) plus one, so binds in a row never collide (each waits for inclusion unless
``wait=False``; two unwaited binds before a block would share a nonce). The proof expires
``valid_blocks`` ETM blocks after the current tip.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..chains.profile import ChainProfile
from ..chains.registry import chain_registry
from ..errors import TxRejectedError
from ..exchange import binding, payloads, txtypes
from ..swaps.core.ports import TxResult
from .context import AppContext


@dataclass(frozen=True)
class BindResult:
    action: str  # "bind", "rebind" or "unbind"
    ticker: str
    key: bytes | None
    tx: TxResult


def bind(
    ctx: AppContext,
    chain: str,
    *,
    rebind: bool = False,
    valid_blocks: int = 100,
    fee: int | None = None,
    wait: bool = True,
) -> BindResult:
    """Prove control of the wallet's ``chain`` key and bind it to the wallet's ETM address."""
    found = _chain(chain)
    secret = ctx.wallet().unsafe_export_chain_secret(found.wallet_label)
    ex = ctx.exchange()
    status = ex.status()
    address = ex.etm_address()
    last = ex.last_binding_nonce(address, found.ticker)
    nonce, expiry = (0 if last is None else last) + 1, int(status["height"]) + valid_blocks
    network = f"{int(status['networkId']):#010x}"
    message = binding.binding_message(network, address, found.ticker, nonce, expiry)
    key, signature = found.key_of(secret), found.sign_binding(message, secret)
    proof = payloads.Bind(found.ticker, key, nonce, expiry, signature, rebind)
    try:
        tx = ex.submit(txtypes.BIND, proof, fee=fee, wait=wait)
    except TxRejectedError as exc:
        fix = _FIXES.get(exc.reason)
        if fix is None:
            raise
        raise TxRejectedError(exc.reason, f"{exc.detail}: {fix.format(t=found.ticker)}") from None
    return BindResult("rebind" if rebind else "bind", found.ticker, key, tx)


#: What to run instead, by the chain's refusal of a bind (issue 15: name the fix).
_FIXES = {
    "already_bound": "run `etm-bridge bind --chain {t} --rebind` to replace the binding",
    "not_bound": "there is nothing to replace: run `etm-bridge bind --chain {t}` without --rebind",
    "key_bound_elsewhere": "that address must run `etm-bridge bind --chain {t} --unbind` first",
}


def unbind(ctx: AppContext, chain: str, *, fee: int | None = None, wait: bool = True) -> BindResult:
    """Remove the wallet's ETM address's binding on ``chain``."""
    found = _chain(chain)
    tx = ctx.exchange().submit(txtypes.UNBIND, payloads.Unbind(found.ticker), fee=fee, wait=wait)
    return BindResult("unbind", found.ticker, None, tx)


def bindable_chains() -> tuple[str, ...]:
    """The tickers ``bind --chain`` accepts: every chain whose keys can be bound."""
    return tuple(c.ticker for c in chain_registry().pooled())


def _chain(text: str) -> ChainProfile:
    from ..errors import ValidationError

    found = chain_registry().find(text)
    if found is None or found not in chain_registry().pooled():
        known = ", ".join(c.ticker for c in chain_registry().pooled())
        raise ValidationError(f"cannot bind {text!r}: bindable chains are {known}")
    return found
