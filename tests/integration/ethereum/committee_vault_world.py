"""Shared setup of the CommitteeVault tests on anvil (imported by test_eth_committee_vault*.py).

:func:`make_world` deploys a fresh vault for a 4-member committee (3-of-4) next to the session's
EtherSwapHTLC, from a fresh executor key funded with ``anvil_setBalance`` (the shared dev
accounts are left alone), and funds it with ether through ``deposit``. The members never send a
transaction: they only sign (EIP-712, eth_account); the executor, who is not a member, submits.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_utils import keccak
from etm_bridge_ethereum import Deployment
from etm_bridge_ethereum.committee_vault import CommitteeVaultClient, deploy_committee_vault
from etm_bridge_ethereum.committee_vault_eip712 import (
    CounterLock,
    Payout,
    Rotate,
    VaultStruct,
    digest,
    order_signatures,
    sign,
    sort_signers,
    threshold_for,
)

from etm_bridge.errors import ContractRevertError

ETH = 10**18
SALT = keccak(text="committee vault tests: custody domain")
FAR = 4_102_444_800  # a deadline in 2100
ETHER = bytes(20)
OWNER20 = b"\xe7" * 20  # the ETM address hash a deposit is for


def key_of(seed: str) -> str:
    return "0x" + keccak(text=seed).hex()


def address20(key: str) -> bytes:
    return bytes.fromhex(Account.from_key(key).address[2:])


#: Five committee candidates sorted by address (the first four are the epoch-0 set), an outsider.
CANDIDATES = tuple(
    sorted((key_of(f"committee vault tests: member {i}") for i in range(5)), key=address20)
)
MEMBERS, NEWCOMER = CANDIDATES[:4], CANDIDATES[4]
OUTSIDER = key_of("committee vault tests: outsider")


def fresh(anvil: Any, seed: str, eth: int = 100) -> tuple[str, bytes]:
    """(private key, address20) of an account holding ``eth`` ether."""
    key = key_of(seed)
    anvil.rpc.call("anvil_setBalance", Account.from_key(key).address, hex(eth * ETH))
    return key, address20(key)


@contextmanager
def reverts(name: str) -> Iterator[pytest.ExceptionInfo[ContractRevertError]]:
    """Expect a ContractRevertError naming the custom error ``name``."""
    with pytest.raises(ContractRevertError) as info:
        yield info
    assert info.value.error_name == name, str(info.value)


@dataclass
class World:
    anvil: Any
    htlc: str
    client: CommitteeVaultClient  # the executor: not a member
    deployment: Deployment
    tmp: Path
    members: tuple[str, ...] = MEMBERS  # keys of the current set, ascending address
    epoch: int = 0
    _ids: Iterator[int] = field(default_factory=itertools.count)

    @property
    def vault20(self) -> bytes:
        return self.client.domain.vault

    @property
    def payee(self) -> bytes:
        """An address nobody else uses (derived from this vault's)."""
        return keccak(self.vault20 + b"payee")[:20]

    def mandate_id(self) -> bytes:
        return keccak(text=f"mandate {next(self._ids)}")

    def sigs(self, s: VaultStruct, keys: Sequence[str] | None = None) -> list[bytes]:
        """Signatures of ``keys`` (default: the first three current members), ascending."""
        chosen = self.members[:3] if keys is None else keys
        return list(
            order_signatures(digest(self.client.domain, s), [self.sign(k, s) for k in chosen])
        )

    def sign(self, key: str, s: VaultStruct) -> bytes:
        return sign(key, self.client.domain, s)

    def payout(self, amount: int, to: bytes, token: bytes = ETHER, **kw: Any) -> Payout:
        values = {"mandate_id": self.mandate_id(), "epoch": self.epoch, "deadline": FAR} | kw
        return Payout(token=token, amount=amount, to=to, **values)

    def counter_lock(
        self, amount: int, claim: bytes, timelock: int, token: bytes = ETHER, **kw: Any
    ) -> CounterLock:
        values = {"mandate_id": self.mandate_id(), "epoch": self.epoch, "deadline": FAR} | kw
        values |= {"preimage_hash": kw.get("preimage_hash", keccak(text=f"ph {timelock}"))}
        return CounterLock(
            token=token, amount=amount, claim_address=claim, timelock=timelock, **values
        )

    def rotate(self, new_keys: Sequence[str], new_epoch: int | None = None) -> Rotate:
        signers = sort_signers(address20(k) for k in new_keys)
        return Rotate(
            mandate_id=self.mandate_id(),
            epoch=self.epoch,
            new_epoch=self.epoch + 1 if new_epoch is None else new_epoch,
            new_signers=signers,
            new_threshold=threshold_for(len(signers)),
        )

    def balance(self, address: bytes | str) -> int:
        text = address if isinstance(address, str) else "0x" + address.hex()
        return int(self.anvil.balance_wei(text))

    def block(self) -> int:
        return int(self.anvil.rpc.call("eth_blockNumber"), 16)

    def mine(self, blocks: int) -> None:
        self.anvil.rpc.call("anvil_mine", hex(blocks))

    def other_client(self, seed: str) -> CommitteeVaultClient:
        key, _ = fresh(self.anvil, seed)
        address = self.client.vault_address
        return CommitteeVaultClient(self.anvil.rpc_url, key, self.tmp / seed, address, 30)


def make_world(anvil: Any, htlc: str, tmp: Path, funding_wei: int = 5 * ETH) -> World:
    key, _ = fresh(anvil, "committee vault tests: executor", eth=1000)
    members = [address20(k) for k in MEMBERS]
    vault = deploy_committee_vault(anvil.rpc_url, key, tmp / "exec", htlc, SALT, members)
    client = CommitteeVaultClient(anvil.rpc_url, key, tmp / "exec", vault.address, 30)
    if funding_wei:
        client.deposit(OWNER20, funding_wei)
    return World(anvil, htlc, client, vault, tmp)
