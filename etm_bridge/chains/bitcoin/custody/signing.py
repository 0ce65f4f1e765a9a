"""Bitcoin's part of the custody signer (``etm_bridge.custody_signer``), found by the chain's
folder name: the outpoint each input of a revision spends (the signer's record binds it), the
member's signature over a digest (RFC 6979, low S, SIGHASH_ALL), the signed transaction from
m shares in key order, and the JSON-RPC calls that submit it to a Bitcoin node (bcoin or Core;
the signer's ``custody_signer.submit`` makes them); for the signer's "prove" duty (design-14
5.2), the value a spend moves (the relay policy's depth scales with it), the adapter name the
signer asks for its foreign node, and tx 302's body from the adapter's
``custody_outcome_proof``. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def outpoints(spend: bytes) -> tuple[bytes | None, ...]:
    from . import build

    return tuple(i.outpoint for i in build.decode_plan(spend).inputs)


def sign(secret: bytes, digest: bytes) -> bytes:
    from . import ecdsa

    return ecdsa.sign(secret, digest)


def public_key(secret: bytes) -> bytes:
    from . import ecdsa

    return ecdsa.pubkey(secret)


def valid_secret(raw: bytes) -> bool:
    """A usable secp256k1 secret: 32 bytes, 0 < value < the group order."""
    from . import ecdsa

    return len(raw) == 32 and 0 < int.from_bytes(raw, "big") < ecdsa.ORDER


def assemble(spend: bytes, shares: Mapping[bytes, Mapping[int, bytes]]) -> bytes:
    """The signed transaction from ``shares`` (member key -> {input: signature}); a
    ValidationError naming the input if fewer than m members signed it validly."""
    from . import build

    plan = build.decode_plan(spend)
    n = len(plan.inputs)
    full = {k: [s[i] for i in range(n)] for k, s in shares.items() if all(i in s for i in range(n))}
    return build.assemble_from_shares(plan, full)


#: The foreign node's JSON-RPC call that broadcasts a raw transaction (hex), on bcoin and Core.
SUBMIT_METHOD = "sendrawtransaction"
#: The call that finds a transaction by id (hex, verbose 0), to tell "sent before" from "refused".
LOOKUP_METHOD = "getrawtransaction"


def txid_hex(raw: bytes) -> str:
    """The display id of a signed transaction."""
    from bitcoin.core import CTransaction, b2lx

    return str(b2lx(CTransaction.deserialize(raw).GetTxid()))


#: The chain adapter (``etm_bridge.adapters`` entry point) the signer reads its node through.
ADAPTER = "bitcoin"


def moved(spend: bytes) -> int:
    """Base units a revision's spend moves (the sum of its outputs, what tx 302's check
    scales the relay policy's depth with)."""
    from . import build

    return sum(o.amount for o in build.decode_plan(spend).outputs)


def outcome_body(proof: Any) -> bytes:
    """Tx 302's Bitcoin proof (a ``BitcoinTxProof``) from the adapter's ``bitcoin-merkle``
    :class:`~etm_bridge.observations.InclusionProof` of the spend."""
    from etm_bridge.chains.bitcoin.spv.headers import dsha256
    from etm_bridge.chains.bitcoin.spv.inclusion import BitcoinTxProof

    if proof.tx_count is None:
        from etm_bridge.errors import ValidationError

        raise ValidationError("a bitcoin-merkle proof names its block's transaction count")
    return BitcoinTxProof(proof.leaf, dsha256(proof.header), proof.index, proof.tx_count,
                          tuple(proof.branch)).encode()  # fmt: skip
