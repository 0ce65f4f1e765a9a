"""The genesis section ``plugins.custody``: :class:`CustodyParams` (design-14 section 1.1).

Integers in base units, validated when read; every refusal is a ConfigError naming the key and
what to write instead. The chain-specific blocks (``plugins.custody.<ticker>``), ``members`` and
``pools`` are kept as given here and read by their own parsers. A chain whose genesis has this
section is a custody chain. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from ..errors import ConfigError

#: Most members of a committee: a UTXO chain's multisig policy counts at most 15 keys within
#: standard script sizes (OP_CHECKMULTISIG), and the account vault accepts 1..15 signers.
MAX_COMMITTEE_CAP = 15
DOMAIN_BYTES = 32


@dataclass(frozen=True)
class CustodyParams:
    """The generic keys of ``plugins.custody`` with their defaults (see the design table)."""

    domain: bytes
    chains: tuple[str, ...]
    max_committee: int = 15
    min_committee: int = 4
    epoch_rounds: int = 86
    grace_blocks: int = 360
    bond_ratio_ppm: int = 1_500_000
    min_bond: int = 10_000 * 10**8
    finder_ppm: int = 100_000
    sign_window_s: int = 3600
    bump_after_s: int = 1800
    max_revisions: int = 4
    fund_per_round: int = 16
    solvency_grace_rounds: int = 3
    price_window_rounds: int = 24
    unbond_delay_rounds: int = 86
    unsafe_test_behaviours: bool = False
    members: tuple[Mapping[str, Any], ...] = ()
    pools: tuple[Mapping[str, Any], ...] = ()
    chain_parts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.domain) != DOMAIN_BYTES:
            raise ConfigError("plugins.custody.domain must be 32 bytes (64 hex digits)")
        if not self.chains or len(set(self.chains)) != len(self.chains) or len(self.chains) > 8:
            raise ConfigError(
                "plugins.custody.chains must list 1..8 distinct tickers under custody"
            )
        if not 1 <= self.min_committee <= self.max_committee <= MAX_COMMITTEE_CAP:
            raise ConfigError(
                "plugins.custody needs 1 <= min_committee <= max_committee <= "
                f"{MAX_COMMITTEE_CAP}, got {self.min_committee} and {self.max_committee}"
            )
        for name in ("epoch_rounds", "max_revisions", "fund_per_round", "price_window_rounds"):
            if getattr(self, name) < 1:
                raise ConfigError(f"plugins.custody.{name} must be at least 1")
        if self.finder_ppm > 1_000_000:
            raise ConfigError("plugins.custody.finder_ppm must be at most 1000000 (100 %)")
        if self.bond_ratio_ppm < 1_000_000:
            raise ConfigError(
                "plugins.custody.bond_ratio_ppm below 1000000 lets the committee's bond cover "
                "less than the value it holds: use at least 1000000"
            )

    @staticmethod
    def from_json(section: Mapping[str, Any]) -> CustodyParams:
        """Read and validate ``plugins.custody`` (unknown keys are refused, not ignored)."""
        if not isinstance(section, Mapping):
            raise ConfigError("plugins.custody must be an object")
        ints = {f.name for f in fields(CustodyParams) if f.type == "int"}
        known = {f.name for f in fields(CustodyParams)} - {"chain_parts"}
        chains = _chains(section.get("chains"))
        unknown = set(section) - known - set(chains)
        if unknown:
            raise ConfigError(f"plugins.custody has unknown keys {sorted(unknown)}")
        values: dict[str, Any] = {"domain": _domain(section.get("domain")), "chains": chains}
        for name in ints & set(section):
            values[name] = _uint(name, section[name])
        if "unsafe_test_behaviours" in section:
            if not isinstance(section["unsafe_test_behaviours"], bool):
                raise ConfigError("plugins.custody.unsafe_test_behaviours must be true or false")
            values["unsafe_test_behaviours"] = section["unsafe_test_behaviours"]
        for name in ("members", "pools"):
            values[name] = tuple(_objects(name, section.get(name, [])))
        values["chain_parts"] = {t: dict(section.get(t) or {}) for t in chains}
        return CustodyParams(**values)

    def to_json(self) -> dict[str, Any]:
        """The normalised section (stored in ``custody_params``; canonical JSON in state)."""
        out: dict[str, Any] = {"domain": self.domain.hex(), "chains": list(self.chains)}
        for f in fields(self):
            if f.type == "int":
                out[f.name] = getattr(self, f.name)
        if self.unsafe_test_behaviours:
            out["unsafe_test_behaviours"] = True
        out["members"] = [dict(m) for m in self.members]
        out["pools"] = [dict(p) for p in self.pools]
        for ticker, part in self.chain_parts.items():
            out[ticker] = dict(part)
        return out


def _domain(raw: Any) -> bytes:
    try:
        value = bytes.fromhex(raw) if isinstance(raw, str) else None
    except ValueError:
        value = None
    if value is None or len(value) != DOMAIN_BYTES:
        raise ConfigError(
            "plugins.custody.domain must be 64 hex digits (node init writes random ones)"
        )
    return value


def _chains(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(t, str) and t for t in raw):
        raise ConfigError("plugins.custody.chains must be a list of the tickers under custody")
    return tuple(raw)


def _uint(name: str, raw: Any) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < 0 or raw >= 2**64:
        raise ConfigError(f"plugins.custody.{name} must be an integer in [0, 2**64), got {raw!r}")
    return raw


def _objects(name: str, raw: Any) -> list[Mapping[str, Any]]:
    if not isinstance(raw, list) or not all(isinstance(x, Mapping) for x in raw):
        raise ConfigError(f"plugins.custody.{name} must be a list of objects")
    return list(raw)
