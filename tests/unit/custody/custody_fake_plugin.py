"""The custody plug-in over the fake k-of-n chain (``etm_bridge.testing.custody_fake``), for the
on-ledger fraud tests: ticker ``fake``, ed25519 custody keys whose proof of possession is an
ed25519 signature over the registration message."""

from __future__ import annotations

from etm_bridge.chain import keys
from etm_bridge.chain.registry import Registry
from etm_bridge.custody import txtypes
from etm_bridge.errors import ValidationError
from etm_bridge.testing.custody_fake import KEY_LEN, fake_custody_spec

SPEC = fake_custody_spec("fake")


def pop_signer(message: str, signature: bytes, claimed: bytes) -> bytes:
    if not keys.verify(claimed, message.encode(), signature):
        raise ValidationError("the fake proof of possession does not verify")
    return claimed


def register(registry: Registry) -> None:
    txtypes.register(
        registry,
        schemes=lambda: {"fake": (KEY_LEN, pop_signer)},
        specs=lambda: {"fake": SPEC},
    )
