"""Fraud proofs and the slash (design-14 sections 6.1-6.3), the chain-neutral part.

Tx 304 ``custody_fraud`` payload::

    u8 version = 1 || u8 + ticker || u32 epoch || u8 + key || u32 + body (<= 131,072 bytes)

The body is the chain's (``CustodySpec.fraud`` parses it and checks the signature). A valid
signature by a committee key over a custody digest that the covered-digest registry does not
hold is fraud: ETM knows every digest it mandated, so there is no challenge game. The verdict
(:func:`judge`), in order: the key is the epoch's custody key of a member (``not_custody_member``)
not slashed already (``already_slashed``); the chain's parser and signature check
(``malformed_field``, ``bad_fraud_signature``); what was signed is a custody script of that
epoch / a vault-domain message (``not_custody_script``: a member's personal use of the same key
is not custody fraud); signed as a mandate would be **and** covered -> ``signature_mandated``;
anything else is fraud.

The slash (:func:`slash_split`): the offender's custody bond, ``finder_ppm`` of it to the
reporter and the rest to the ETM reserves of that ticker's pools pro rata (largest remainder,
exact to the unit), burnt when there is no such pool; its delegate deposit as a double-forging
proof splits it (a tenth to the reporter, the rest burnt). Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..chain.codec import U32, Reader
from ..chain.consensus import largest_remainder
from ..errors import CustodyError, ValidationError
from .records import Committee, Member, Reason
from .spec import FraudClaim, FraudContext

VERSION = 1
MAX_BODY = 131_072
PPM = 1_000_000
#: A fraud tx costs 1-2 signature checks and up to 128 KiB of parsing: 10 x the base fee.
MIN_FEE_MULTIPLE = 10


@dataclass(frozen=True)
class Fraud:
    ticker: str
    epoch: int
    key: bytes
    body: bytes

    def encode(self) -> bytes:
        t = self.ticker.encode()
        head = bytes([VERSION, len(t)]) + t + U32.pack(self.epoch) + bytes([len(self.key)])
        return head + self.key + U32.pack(len(self.body)) + self.body


def decode_fraud(payload: bytes) -> Fraud:
    r = Reader(payload, "custody_fraud")
    if r.u8("version") != VERSION:
        raise ValidationError(f"custody_fraud: version must be {VERSION}")
    raw_ticker = r.take(r.u8("ticker length"), "ticker")
    if not raw_ticker or not raw_ticker.isascii():
        raise ValidationError("custody_fraud: the ticker must be non-empty ascii")
    epoch = r.u32("epoch")
    key = r.take(r.u8("key length"), "key")
    body = r.var_bytes("body", MAX_BODY)
    r.done()
    return Fraud(raw_ticker.decode(), epoch, key, body)


def judge(
    fraud: Fraud,
    committee: Committee | None,
    members: Mapping[bytes, Member],
    parse: Callable[[bytes, FraudContext], FraudClaim],
    is_covered: Callable[[bytes], bool],
) -> bytes:
    """The offending delegate, or CustodyError with the first reason that clears it."""
    keys = () if committee is None else committee.keys.get(fraud.ticker, ())
    if committee is None or fraud.key not in keys:
        raise CustodyError(
            Reason.NOT_CUSTODY_MEMBER,
            f"{fraud.key.hex()} is no {fraud.ticker} custody key of epoch {fraud.epoch}",
        )
    offender = next(
        (d for d in committee.members if d in members and
         members[d].keys.get(fraud.ticker) == fraud.key),
        None,
    )  # fmt: skip
    if offender is None:
        raise CustodyError(Reason.NOT_CUSTODY_MEMBER, "no member registered this key")
    if members[offender].slashed:
        raise CustodyError(Reason.ALREADY_SLASHED, f"delegate {offender.hex()} was slashed")
    claim = parse(fraud.body, FraudContext(fraud.ticker, committee, fraud.key))
    if not claim.custody_script:
        raise CustodyError(
            Reason.NOT_CUSTODY_SCRIPT,
            "the signature is not over a custody script or vault message of that epoch",
        )
    if claim.canonical and is_covered(claim.digest):
        raise CustodyError(
            Reason.SIGNATURE_MANDATED, f"digest {claim.digest.hex()} is covered by a mandate"
        )
    return offender


@dataclass(frozen=True)
class SlashSplit:
    """Where a slashed member's bond and deposit go (sums exactly to what was taken)."""

    reporter: int  # finder's share of the bond + a tenth of the deposit
    pools: Mapping[str, int]  # pool asset -> ETM credited to its etm_reserve
    burnt: int

    def total(self) -> int:
        return self.reporter + sum(self.pools.values()) + self.burnt


def slash_split(
    bond: int, deposit: int, finder_ppm: int, pool_reserves: Mapping[str, int]
) -> SlashSplit:
    """Split the offender's custody ``bond`` and delegate ``deposit`` (see the module
    docstring); ``pool_reserves``: ETM reserve of each pool of the offence's ticker."""
    finder = bond * finder_ppm // PPM
    rest = bond - finder
    live = {a.encode(): r for a, r in pool_reserves.items() if r > 0}
    credits = (
        {a.decode(): v for a, v in largest_remainder(rest, live).items()} if live and rest else {}
    )
    burnt = rest - sum(credits.values())
    deposit_finder = deposit // 10
    return SlashSplit(finder + deposit_finder, credits, burnt + deposit - deposit_finder)
