"""Built-in Bitcoin relay checkpoints per network (what ``node init --btc-network`` starts from).

A checkpoint is trusted configuration: every header after it is checked by the relay's full
rules, the checkpoint itself only for its proof of work. So it must come from data one can
verify, and on a retargeting network start a difficulty period (a multiple of 2016):

- **mainnet**: block 826560 (2016 x 410, ``00000000000000000001e188...2a693cd1``, nBits
  ``1704005a``, 2024-01-20), the newest period start in the real mainnet header vectors
  (``tests/vectors/bitcoin/mainnet_headers_822528_826560.hex``, sha256-listed in
  ``tests/vectors/SHA256SUMS``, provenance in ``tests/vectors/README.md``; a unit test checks
  header, hash, period start and the ten ancestor times against that file). Relaying from it
  to today's tip is ~100,000 headers (about fifty 2,000-header transactions). A deployment that
  wants a newer one sets ``btc_checkpoint`` in the genesis ``plugins.spv`` section from its own
  node.
- **testnet4**: its genesis block (BIP94 rules from height 0). No recent testnet4 header is in
  data we can verify here, and a testnet4 header alone proves little anyway: its 20-minute
  minimum-difficulty rule lets anyone mine a valid header in about 2^32 hashes.
- **regtest**: its genesis block (about 2 hashes a header: development only; pools on it need
  the genesis flag ``allow_dev_pools``).

``chain_work`` of a checkpoint is the work of the checkpoint block itself, not the network's
cumulative work since 2009 (which cannot be checked from headers we hold): the relay compares
only the work of branches descending from the checkpoint, for which any common base is exact.
"""

from __future__ import annotations

from etm_bridge.chains.bitcoin.spv import headers
from etm_bridge.chains.bitcoin.spv.header_relay import Checkpoint
from etm_bridge.chains.bitcoin.spv.params import params_for
from etm_bridge.errors import ConfigError

#: Mainnet block 826560 (wire format) and the times of blocks 826550..826559, oldest first.
MAINNET_826560_HEX = (
    "0000b328ff0eb4e0d47718500b72c63decf20c32f945e4b5b16a02000000000000000000"
    "e149ba71d053be7a38d28cd0aa838c9e05e11dcd8e4ebe8fc186be30eb04fc09"
    "83d9ab655a0004170e28385d"
)
MAINNET_826560_ANCESTOR_TIMES = (
    1705753719, 1705754299, 1705754801, 1705755306, 1705755451,
    1705755545, 1705755996, 1705757548, 1705757767, 1705760375,
)  # fmt: skip
MAINNET_826560_HASH = "00000000000000000001e1885d28fef43a752607ec23602f04aa55002a693cd1"


def _at(height: int, header_hex: str, times: tuple[int, ...] = ()) -> Checkpoint:
    header = bytes.fromhex(header_hex)
    bits = headers.BlockHeader.from_bytes(header).bits
    return Checkpoint(height, header, headers.work_from_bits(bits), times)


def default_checkpoint(network: str) -> Checkpoint:
    """The built-in checkpoint of ``network`` (mainnet 826560; testnet4 and regtest genesis)."""
    params = params_for(network)  # refuses signet with its reason
    if params.name == "mainnet":
        return _at(826_560, MAINNET_826560_HEX, MAINNET_826560_ANCESTOR_TIMES)
    if params.name in ("testnet4", "regtest"):
        return Checkpoint.genesis(params)
    raise ConfigError(
        f"no built-in checkpoint for Bitcoin {network}: set btc_checkpoint in the genesis "
        "plugins.spv section (a period-start header from your own node)"
    )
