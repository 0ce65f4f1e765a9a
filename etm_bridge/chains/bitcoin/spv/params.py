"""Bitcoin consensus parameters that the header relay needs, per network, as in Bitcoin Core.

Values follow Core's ``kernel/chainparams.cpp`` (``CMainParams``, ``CTestNetParams`` for
testnet3, ``CTestNet4Params``, ``CRegTestParams``): proof-of-work limit, target spacing and
timespan, the testnet minimum-difficulty rule, regtest's no-retargeting flag, testnet4's BIP94
rules (the retarget starts from the period's first block's target; a period's first block may
not be more than 600 s older than its parent), and the heights from which the block version must
be at least 2/3/4 (BIP34/66/65). Genesis headers are wire-format hex; each hashes to the genesis
hash Core hard-codes (a unit test checks it, and the hash meets the proof of work).

**Signet is not supported**: a signet block is valid only with the signet challenge's signature,
which sits in the coinbase witness commitment, not in the 80-byte header. A header relay cannot
check it, so anyone could relay a minimum-difficulty signet chain of their own (powLimit
``00000377ae...``: about a million hashes a header). :func:`params_for` refuses it by name.
"""

from __future__ import annotations

from dataclasses import dataclass

from etm_bridge.errors import ConfigError


@dataclass(frozen=True)
class BitcoinParams:
    """The header-relevant consensus parameters of one Bitcoin network."""

    name: str
    pow_limit: int
    pow_target_spacing_s: int
    pow_target_timespan_s: int
    allow_min_difficulty_blocks: bool
    no_retargeting: bool
    bip34_height: int
    bip66_height: int
    bip65_height: int
    genesis_header_hex: str
    #: Default confirmations a proof needs on this network (configurable per relay).
    default_confirmations: int
    #: BIP94 (testnet4): retarget from the period's first block; the timewarp rule.
    enforce_bip94: bool = False

    @property
    def difficulty_adjustment_interval(self) -> int:
        """Blocks per retarget period (2016 on every Core network)."""
        return self.pow_target_timespan_s // self.pow_target_spacing_s

    @property
    def genesis_header(self) -> bytes:
        return bytes.fromhex(self.genesis_header_hex)


_GENESIS_MERKLE = "3ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a"
_NULL_PREV = "01000000" + "00" * 32 + _GENESIS_MERKLE

MAINNET = BitcoinParams(
    name="mainnet",
    pow_limit=(1 << 224) - 1,  # 00000000ffff...ff
    pow_target_spacing_s=600,
    pow_target_timespan_s=14 * 24 * 60 * 60,
    allow_min_difficulty_blocks=False,
    no_retargeting=False,
    bip34_height=227931,
    bip66_height=363725,
    bip65_height=388381,
    genesis_header_hex=_NULL_PREV + "29ab5f49ffff001d1dac2b7c",
    default_confirmations=6,
)

TESTNET3 = BitcoinParams(
    name="testnet3",
    pow_limit=(1 << 224) - 1,
    pow_target_spacing_s=600,
    pow_target_timespan_s=14 * 24 * 60 * 60,
    allow_min_difficulty_blocks=True,
    no_retargeting=False,
    bip34_height=21111,
    bip66_height=330776,
    bip65_height=581885,
    genesis_header_hex=_NULL_PREV + "dae5494dffff001d1aa4ae18",
    default_confirmations=6,
)

#: testnet4 (BIP94): genesis 00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043,
#: time 1714777860, nonce 393743547, its own coinbase (merkle root 7aa0a7ae...912b7b4e).
TESTNET4 = BitcoinParams(
    name="testnet4",
    pow_limit=(1 << 224) - 1,
    pow_target_spacing_s=600,
    pow_target_timespan_s=14 * 24 * 60 * 60,
    allow_min_difficulty_blocks=True,
    no_retargeting=False,
    bip34_height=1,
    bip66_height=1,
    bip65_height=1,
    genesis_header_hex="01000000"
    + "00" * 32
    + "4e7b2b9128fe0291db0693af2ae418b767e657cd407e80cb1434221eaea7a07a"
    + "046f3566ffff001dbb0c7817",
    default_confirmations=6,
    enforce_bip94=True,
)

REGTEST = BitcoinParams(
    name="regtest",
    pow_limit=(1 << 255) - 1,  # 7fffff...ff
    pow_target_spacing_s=600,
    pow_target_timespan_s=14 * 24 * 60 * 60,
    allow_min_difficulty_blocks=True,
    no_retargeting=True,
    bip34_height=1,
    bip66_height=1,
    bip65_height=1,
    genesis_header_hex=_NULL_PREV + "dae5494dffff7f2002000000",
    default_confirmations=1,
)

NETWORKS: dict[str, BitcoinParams] = {p.name: p for p in (MAINNET, TESTNET3, TESTNET4, REGTEST)}
NETWORKS["testnet"] = TESTNET3
NETWORKS["main"] = MAINNET

#: Networks a header relay cannot verify, and why.
UNSUPPORTED = {
    "signet": "signet blocks are valid only with the challenge's signature in the coinbase "
    "witness commitment, which an 80-byte header does not carry: a header relay cannot tell a "
    "signet block from anyone's minimum-difficulty forgery. Use testnet4 (proof of work) to "
    "test with a public network",
}


def params_for(network: str) -> BitcoinParams:
    """The parameters of ``network`` (mainnet/main, testnet3/testnet, testnet4, regtest)."""
    if network in UNSUPPORTED:
        raise ConfigError(f"Bitcoin network {network!r} is not supported: {UNSUPPORTED[network]}")
    try:
        return NETWORKS[network]
    except KeyError:
        known = ", ".join(sorted(NETWORKS))
        raise ConfigError(f"unknown Bitcoin network {network!r}; known: {known}") from None
