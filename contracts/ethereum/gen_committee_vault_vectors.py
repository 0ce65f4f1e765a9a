"""Write ``committee_vault_vectors.json``: EIP-712 vectors of the CommitteeVault.

Usage (from the repository root)::

    .venv/bin/python contracts/ethereum/gen_committee_vault_vectors.py          # (re)write
    .venv/bin/python contracts/ethereum/gen_committee_vault_vectors.py --check  # exit 1 if stale

Everything is derived from fixed public seeds, so the file is reproducible byte for byte: the
member and deployer keys are keccak256 of fixed strings (**public test keys, never for real
funds**), the vault's address is the CREATE address of the deployer's first transaction (nonce
0) on chain 31337 (anvil), and eth_account's signatures are deterministic (RFC 6979). It holds:

* the domain, the four EIP-712 type strings, their type hashes and the domain separator;
* one case per struct kind (CounterLock, Payout, Rotate): message, ``abi.encode`` of the fields,
  hashStruct, digest and the signatures of three members in ascending signer order;
* ``fraud``: one member alone signing a Payout that no ETM mandate covers (a theft attempt): the
  digest, the signature, the signer and the design-14 §6.2 fraud body, for the fraud-proof tests.

``tests/unit/ethereum/test_eth_committee_vault_eip712.py`` regenerates it and compares;
``tests/integration/ethereum/test_eth_committee_vault.py`` deploys the vault at the recorded
address on anvil and checks the contract's digests, executes the three cases and shows that the
fraud signature alone moves nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import rlp
from eth_account import Account
from eth_utils import keccak, to_checksum_address
from etm_bridge_ethereum.committee_vault_eip712 import (
    DOMAIN_TYPE,
    CounterLock,
    Payout,
    Rotate,
    VaultDomain,
    VaultStruct,
    digest,
    fraud_body,
    order_signatures,
    sign,
    sort_signers,
    threshold_for,
)

HERE = Path(__file__).resolve().parent
VECTORS = HERE / "committee_vault_vectors.json"
CHAIN_ID = 31337
SALT = keccak(text="etm-bridge committee vault vectors: custody domain")
DEPLOYER_SEED = "etm-bridge committee vault vectors: deployer"
MEMBER_SEEDS = tuple(f"etm-bridge committee vault vectors: member {i}" for i in range(4))
NEW_MEMBER_SEED = "etm-bridge committee vault vectors: member 4"
DEADLINE = 4_102_444_800  # 2100-01-01T00:00:00Z
ETH = 10**18


def key_of(seed: str) -> bytes:
    return keccak(text=seed)


def address_of(seed: str) -> bytes:
    return bytes.fromhex(Account.from_key(key_of(seed)).address[2:])


def create_address(sender: bytes, nonce: int) -> bytes:
    """The address of the contract ``sender`` creates with its transaction number ``nonce``."""
    return keccak(rlp.encode([sender, nonce]))[12:]


def domain() -> VaultDomain:
    return VaultDomain(CHAIN_ID, create_address(address_of(DEPLOYER_SEED), 0), SALT)


def members() -> tuple[bytes, ...]:
    return sort_signers(address_of(s) for s in MEMBER_SEEDS)


def _hex(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, tuple | list):
        return [_hex(v) for v in value]
    return value


def cases() -> tuple[VaultStruct, ...]:
    """The three mandated structs, executable in this order on a fresh vault holding 2 ETH."""
    counter = CounterLock(
        mandate_id=keccak(text="vector counter_lock mandate"),
        epoch=0,
        preimage_hash=keccak(text="vector preimage hash"),
        token=bytes(20),
        amount=ETH // 4,
        claim_address=address_of("etm-bridge committee vault vectors: user"),
        timelock=1_000_000_000,
        deadline=DEADLINE,
    )
    payout = Payout(
        mandate_id=keccak(text="vector lp_withdraw mandate"),
        epoch=0,
        token=bytes(20),
        amount=ETH // 10,
        to=address_of("etm-bridge committee vault vectors: lp"),
        deadline=DEADLINE,
    )
    new_set = sort_signers([*members()[1:], address_of(NEW_MEMBER_SEED)])
    rotate = Rotate(
        mandate_id=keccak(text="vector vault_rotation mandate"),
        epoch=0,
        new_epoch=1,
        new_signers=new_set,
        new_threshold=threshold_for(len(new_set)),
    )
    return counter, payout, rotate


def theft() -> Payout:
    """A payout no mandate covers: the whole vault to the signing member's own address."""
    return Payout(
        mandate_id=keccak(text="no such mandate"),
        epoch=0,
        token=bytes(20),
        amount=2 * ETH,
        to=address_of(MEMBER_SEEDS[1]),
        deadline=DEADLINE,
    )


def _case(d: VaultDomain, s: VaultStruct, seeds: tuple[str, ...]) -> dict[str, Any]:
    dig = digest(d, s)
    sigs = order_signatures(dig, [sign(key_of(seed), d, s) for seed in seeds])
    return {
        "kind": s.PRIMARY,
        "kind_code": int(s.KIND),
        "message": {k: _hex(v) for k, v in s.message().items()},
        "abi_encoded": _hex(s.abi_encode()),
        "struct_hash": _hex(s.struct_hash()),
        "digest": _hex(dig),
        "signatures": _hex(list(sigs)),
    }


def vectors() -> dict[str, Any]:
    d = domain()
    counter, payout, rotate = cases()
    fraud_sig = sign(key_of(MEMBER_SEEDS[1]), d, theft())
    return {
        "about": "CommitteeVault v1 EIP-712 vectors; generated by gen_committee_vault_vectors.py "
        "from public seeds: the keys are public test keys, never for real funds",
        "domain": {
            "name": "etm-bridge CommitteeVault",
            "version": "1",
            "chainId": d.chain_id,
            "verifyingContract": to_checksum_address(d.vault),
            "salt": _hex(d.salt),
            "deployer_key_seed": DEPLOYER_SEED,
            "deployer": to_checksum_address(address_of(DEPLOYER_SEED)),
            "deployer_nonce": 0,
        },
        "domain_separator": _hex(d.separator()),
        "type_strings": {
            "EIP712Domain": DOMAIN_TYPE,
            **{s.PRIMARY: s.type_string() for s in (counter, payout, rotate)},
        },
        "type_hashes": {
            "EIP712Domain": _hex(keccak(text=DOMAIN_TYPE)),
            **{s.PRIMARY: _hex(s.type_hash()) for s in (counter, payout, rotate)},
        },
        "members": [
            {"key_seed": seed, "address": to_checksum_address(address_of(seed))}
            for seed in (*MEMBER_SEEDS, NEW_MEMBER_SEED)
        ],
        "epoch0_signers": [to_checksum_address(a) for a in members()],
        "threshold": threshold_for(len(members())),
        "cases": [_case(d, s, MEMBER_SEEDS[:3]) for s in (counter, payout, rotate)],
        "fraud": {
            "why": "member 1 alone signs a Payout of the whole vault to itself; no ETM mandate "
            "covers its digest, so the signature is fraud (design-14 §6.2); the contract "
            "refuses to execute it: TooFewSignatures(1, 3)",
            "signer": to_checksum_address(address_of(MEMBER_SEEDS[1])),
            "signer_key_seed": MEMBER_SEEDS[1],
            "case": _case(d, theft(), (MEMBER_SEEDS[1],)),
            "signature": _hex(fraud_sig),
            "fraud_body": _hex(fraud_body(theft(), fraud_sig)),
        },
    }


def render() -> str:
    return json.dumps(vectors(), indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the file is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not VECTORS.exists() or VECTORS.read_text(encoding="utf-8") != text:
            print(f"{VECTORS} is stale (run gen_committee_vault_vectors.py)", file=sys.stderr)
            return 1
        print("vectors up to date")
        return 0
    VECTORS.write_text(text, encoding="utf-8")
    print(f"wrote {VECTORS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
