"""The TEST-ONLY censoring node: ``node run --unsafe-censor tx-types=NAME[,NAME...]``.

An attacker that runs a delegate node can accept a transaction through its API (answer
``pending``), never gossip it and never include it in its blocks: a user talking only to that
node waits for ever, and if the transaction is an HTLC claim the node has read its preimage.
Tests perform that attack on real processes (``tests/integration/swaps/``,
``tests/integration/node/test_client_endpoints.py``) with this switch.

It is refused unless the chain's network id is the development one (the genesis that uses the
public ``dev_key`` delegate keys), and the node logs a warning at start. Names are the chain's
transaction type names (``xchg_htlc_claim``; the ``xchg_`` prefix may be left out) or numeric
type ids.
"""

from __future__ import annotations

import logging

from ..chain.ledger import Chain
from ..chain.params import ChainParams
from ..errors import ConfigError, TxRejectedError

log = logging.getLogger(__name__)

#: Networks on which a node may be told to censor: the development network only.
DEV_NETWORK_IDS = frozenset({ChainParams().network_id})
PREFIX = "tx-types="


def parse_censor(text: str, chain: Chain) -> frozenset[int]:
    """The transaction type ids ``text`` (``tx-types=a,b``) names; ConfigError if malformed,
    naming an unknown type, or on a network that is not a development one."""
    if not text.startswith(PREFIX) or not text[len(PREFIX) :].strip():
        raise ConfigError(
            f"--unsafe-censor {text!r}: expected tx-types=NAME[,NAME...] (e.g. tx-types=htlc_claim)"
        )
    network = chain.params.network_id
    if network not in DEV_NETWORK_IDS:
        raise ConfigError(
            f"--unsafe-censor is a test-only attacker behaviour and this chain's network "
            f"0x{network:08x} is not a development network: refused"
        )
    ids = set()
    for name in (n.strip() for n in text[len(PREFIX) :].split(",")):
        ids.add(_type_id(name, chain))
    return frozenset(ids)


def _type_id(name: str, chain: Chain) -> int:
    if name.isdigit():
        chain.registry.type_of(int(name))  # raises if there is none
        return int(name)
    for candidate in (name, f"xchg_{name}"):
        try:
            return chain.registry.type_named(candidate).type_id
        except TxRejectedError:
            continue
    raise ConfigError(f"--unsafe-censor: no transaction type named {name!r}")


def apply_censor(text: str, chain: Chain) -> None:
    """Make ``chain``'s node censor what ``text`` names (empty: nothing), loudly."""
    if not text:
        return
    ids = parse_censor(text, chain)
    chain.unsafe_censored_types = ids
    names = ", ".join(f"{chain.registry.type_of(i).name} ({i})" for i in sorted(ids))
    log.warning(
        "UNSAFE TEST-ONLY: this node CENSORS transactions of types %s: it accepts them, never "
        "relays them and never includes them in its blocks",
        names,
    )
