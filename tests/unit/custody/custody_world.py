"""Shared test data for the custody rules: params, delegates with real custody keys (Bitcoin
signed-message and EIP-191 proofs of possession through the chain profiles' binding schemes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from etm_bridge.chain.keys import SigningKey, dev_key
from etm_bridge.chains.registry import chain_registry
from etm_bridge.custody import registration as rg
from etm_bridge.custody.params import CustodyParams
from etm_bridge.custody.records import Member

DOMAIN = bytes.fromhex("d0" * 32)
NETWORK = 0x45544D01
CHAINS = ("btc", "eth")
PARAMS = CustodyParams(DOMAIN, CHAINS, min_bond=1_000)


def profile(ticker: str) -> Any:
    return chain_registry().by_ticker(ticker)


def secret(who: str, ticker: str) -> bytes:
    from hashlib import sha256

    return sha256(f"custody {who} {ticker}".encode()).digest()


@dataclass(frozen=True)
class Delegate:
    name: str
    key: SigningKey  # delegate identity (ed25519)
    agent: SigningKey
    custody: dict[str, bytes]  # ticker -> public custody key

    @property
    def pk(self) -> bytes:
        return self.key.public_key

    def member(self, bond: int = 10_000) -> Member:
        return Member(self.pk, self.agent.public_key, dict(self.custody), bond)


def delegate(name: str) -> Delegate:
    keys = {}
    for t in CHAINS:
        key, _ = profile(t).binding.sign("probe", secret(name, t))
        keys[t] = key
    return Delegate(name, dev_key(f"delegate {name}"), dev_key(f"agent {name}"), keys)


def registration(
    d: Delegate, bond: int = 5_000, keys_from: dict[str, str] | None = None, **over: Any
) -> rg.Register:
    """A registration of ``d`` with valid proofs; ``keys_from`` makes ticker's key (and proof)
    another delegate's (``{"btc": "bob"}``); ``over`` overrides message fields."""
    owners = {t: (keys_from or {}).get(t, d.name) for t in CHAINS}
    keys = {t: delegate(owners[t]).custody[t] for t in CHAINS}
    fields = {"network_id": NETWORK, "domain": DOMAIN, "delegate": d.pk,
              "agent": d.agent.public_key, **over}  # fmt: skip
    msg = rg.pop_message(fields["network_id"], fields["domain"], fields["delegate"],
                         fields["agent"], keys)  # fmt: skip
    pops = {t: profile(t).binding.sign(msg, secret(owners[t], t))[1] for t in CHAINS}
    return rg.Register(d.agent.public_key, d.agent.sign(rg.agent_pop_digest(msg)), bond, keys, pops)


def view(d: Delegate, **over: Any) -> rg.RegistrationView:
    base: dict[str, Any] = {
        "sender": d.pk, "is_delegate": True, "delegate_slashed": False, "network_id": NETWORK,
        "domain": DOMAIN, "chains": CHAINS,
        "key_len": {t: profile(t).binding.key_len for t in CHAINS},
        "verifiers": {t: profile(t).binding.signer for t in CHAINS},
        "key_owner": lambda t, k: None, "agent_owner": lambda a: None,
        "current": None, "serving": False, "balance": 10**9, "height": 7,
    }  # fmt: skip
    base.update(over)
    return rg.RegistrationView(**base)
