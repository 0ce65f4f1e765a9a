"""Bitcoin's part of the custody signer (``etm_bridge.custody_signer``), found by the chain's
folder name: the outpoint each input of a revision spends (the signer's record binds it), the
member's signature over a digest (RFC 6979, low S, SIGHASH_ALL), the signed transaction from
m shares in key order, and the JSON-RPC calls that submit it to a Bitcoin node (bcoin or Core;
the signer's ``custody_signer.submit`` makes them). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping


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
