"""Custody key registration, tx 300 ``custody_register`` (design-14 section 1.4).

A delegate registers its signer's ETM account (``agent``) and one custody key per chain under
custody, each with a **proof of possession**: a signature over :func:`pop_message` by that key
in its chain's binding scheme (``ChainProfile.binding.signer``), and the agent's ed25519
signature over ``sha256(pop_message)``. The message names the ETM network, the custody domain,
the delegate, the agent and every key, so a proof cannot be replayed to another chain, another
delegate or another key set. Why: a delegate copying another's key would give that key two seats
in the multisig (and a seat only the copied key can fill); a fraud proof must name one offender
(one key, one delegate); the vault contract needs distinct signers.

Payload (binary, every length checked before it is read)::

    u8 version = 1 || agent 32 || agent_pop 64 || u64 bond || u8 count (1..8)
    count x (u8 ticker_len || ticker || u8 key_len || key || u8 pop_len || pop)

:func:`check_registration` applies the checks in the order of the design's table and returns
the new :class:`~.records.Member`; the tx type (with the chain's state) supplies the lookups.
Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..chain import keys as ed25519
from ..chain.codec import U64, Reader, sha256
from ..errors import CustodyError, EtmBridgeError, ValidationError
from .records import Member, Reason

VERSION = 1
MAX_CHAINS = 8
AGENT_POP_BYTES = 64

#: (message, signature, claimed key) -> the key that signed (``BindingSpec.signer``)
PopVerifier = Callable[[str, bytes, bytes], bytes]


@dataclass(frozen=True)
class Register:
    agent: bytes
    agent_pop: bytes
    bond: int
    keys: Mapping[str, bytes]  # ticker -> key
    pops: Mapping[str, bytes]  # ticker -> proof of possession

    def encode(self) -> bytes:
        out = [bytes([VERSION]), self.agent, self.agent_pop, U64.pack(self.bond)]
        out.append(bytes([len(self.keys)]))
        for ticker in sorted(self.keys):
            for part in (ticker.encode(), self.keys[ticker], self.pops[ticker]):
                out += [bytes([len(part)]), part]
        return b"".join(out)


def decode_register(payload: bytes) -> Register:
    """The payload, or ValidationError (``malformed_field``) naming the field."""
    r = Reader(payload, "custody_register")
    if r.u8("version") != VERSION:
        raise ValidationError(f"custody_register: version must be {VERSION}")
    agent, agent_pop = r.take(32, "agent"), r.take(AGENT_POP_BYTES, "agent_pop")
    bond = r.u64("bond")
    count = r.u8("count")
    if not 1 <= count <= MAX_CHAINS:
        raise ValidationError(f"custody_register: {count} keys, must be 1..{MAX_CHAINS}")
    keys: dict[str, bytes] = {}
    pops: dict[str, bytes] = {}
    for _ in range(count):
        raw_ticker = r.take(r.u8("ticker length"), "ticker")
        if not raw_ticker.isascii() or not raw_ticker:
            raise ValidationError("custody_register: a ticker must be non-empty ascii")
        ticker = raw_ticker.decode()
        if ticker in keys:
            raise ValidationError(f"custody_register: {ticker} named twice")
        keys[ticker] = r.take(r.u8("key length"), "key")
        pops[ticker] = r.take(r.u8("pop length"), "pop")
    r.done()
    return Register(agent, agent_pop, bond, keys, pops)


def pop_message(
    network_id: int, domain: bytes, delegate: bytes, agent: bytes, keys: Mapping[str, bytes]
) -> str:
    """What every proof of possession of a registration signs (keys in ticker order)."""
    listed = ";".join(f"{t}={keys[t].hex()}" for t in sorted(keys))
    return (
        "etm-bridge custody key v1\n"
        f"ETM network: {network_id:#010x}\n"
        f"custody domain: {domain.hex()}\n"
        f"delegate: {delegate.hex()}\n"
        f"agent: {agent.hex()}\n"
        f"keys: {listed}"
    )


def agent_pop_digest(message: str) -> bytes:
    return sha256(message.encode())


@dataclass(frozen=True)
class RegistrationView:
    """What the chain knows when a registration is checked (the tx type fills it from state).

    ``key_owner(ticker, key)`` / ``agent_owner(agent)``: the delegate that registered it (the
    tables are permanent), None if nobody; ``serving``: the sender sits in a committee whose
    vault is pending, active or retiring on some chain; ``current``: its registration, if any."""

    sender: bytes
    is_delegate: bool
    delegate_slashed: bool
    network_id: int
    domain: bytes
    chains: tuple[str, ...]
    key_len: Mapping[str, int]
    verifiers: Mapping[str, PopVerifier]
    key_owner: Callable[[str, bytes], bytes | None]
    agent_owner: Callable[[bytes], bytes | None]
    current: Member | None
    serving: bool
    balance: int
    height: int


def _fail(reason: Reason, detail: str) -> CustodyError:
    return CustodyError(reason, detail)


def check_registration(p: Register, v: RegistrationView) -> Member:
    """The sender's new registration, or CustodyError with the design's reason, in its order."""
    if set(p.keys) != set(v.chains):
        raise _fail(
            Reason.MALFORMED_FIELD,
            f"register exactly one key for each chain under custody {sorted(v.chains)}, "
            f"got {sorted(p.keys)}",
        )
    if not v.is_delegate:
        raise _fail(Reason.UNKNOWN_DELEGATE, f"{v.sender.hex()} is not a registered delegate")
    if v.delegate_slashed:
        raise _fail(Reason.DELEGATE_SLASHED, f"delegate {v.sender.hex()} was slashed")
    for ticker in sorted(p.keys):
        if len(p.keys[ticker]) != v.key_len[ticker]:
            raise _fail(
                Reason.BAD_CUSTODY_KEY,
                f"a {ticker} custody key is {v.key_len[ticker]} bytes, got {len(p.keys[ticker])}",
            )
    message = pop_message(v.network_id, v.domain, v.sender, p.agent, p.keys)
    for ticker in sorted(p.keys):
        _check_pop(v.verifiers[ticker], message, p.pops[ticker], p.keys[ticker], ticker)
    if not ed25519.verify(p.agent, agent_pop_digest(message), p.agent_pop):
        raise _fail(Reason.BAD_POP, "the agent's signature does not verify over this registration")
    _check_ownership(p, v)
    if v.serving and v.current is not None and dict(v.current.keys) != dict(p.keys):
        raise _fail(
            Reason.KEYS_LOCKED,
            "a member's custody keys change only after it has left every vault holding funds",
        )
    if v.balance < p.bond:
        raise _fail(
            Reason.INSUFFICIENT_BALANCE, f"the bond {p.bond} exceeds the balance {v.balance}"
        )
    bond = p.bond + (v.current.bond if v.current is not None else 0)
    registered = v.current.registered_height if v.current is not None else v.height
    last = v.current.last_retired_round if v.current is not None else None
    return Member(v.sender, p.agent, dict(p.keys), bond, False, registered, last)


def _check_pop(verify: PopVerifier, message: str, pop: bytes, key: bytes, ticker: str) -> None:
    try:
        signer = verify(message, pop, key)
    except (EtmBridgeError, ValueError) as exc:  # BindingError: the signature does not verify
        raise _fail(
            Reason.BAD_POP, f"the {ticker} proof of possession does not verify: {exc}"
        ) from exc
    if signer != key:
        raise _fail(
            Reason.BAD_POP,
            f"the {ticker} proof of possession was made by {signer.hex()}, not {key.hex()}",
        )


def _check_ownership(p: Register, v: RegistrationView) -> None:
    for ticker in sorted(p.keys):
        owner = v.key_owner(ticker, p.keys[ticker])
        if owner is not None and owner != v.sender:
            raise _fail(
                Reason.KEY_REGISTERED,
                f"the {ticker} key {p.keys[ticker].hex()} is registered to delegate {owner.hex()}",
            )
    owner = v.agent_owner(p.agent)
    if owner is not None and owner != v.sender:
        raise _fail(Reason.KEY_REGISTERED, f"agent {p.agent.hex()} serves delegate {owner.hex()}")
