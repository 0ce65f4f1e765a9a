#!/usr/bin/env node
/*
 * bcoin_launcher.js - run bcoin 1.0.2 as a regtest node that behaves like bitcoind.
 *
 * Used by etm_bridge_regtest when no Bitcoin Core `bitcoind` is installed. Takes bcoin's own
 * command-line options (--prefix, --http-port, --wallet-http-port, --api-key, --memory,
 * --index-tx, --wallet-witness, --listen, --log-level ...) and applies, before the node starts,
 * the five fixes listed in shared/NOTES-infra.md, each seen failing on stock bcoin:
 *
 *   1. leveldown 6 turns `gt/gte/lt/lte: null` iterator options into the string "null", so every
 *      range scan (listunspent, the wallet) came back empty: strip nullish range options.
 *   2. regtest constants as in Bitcoin Core: WIF 0xef, p2pkh 0x6f, p2sh 0xc4, bech32 "bcrt",
 *      tpub/tprv, BIP34/65/66 from height 1, csv and segwit with window=1 threshold=1 (active
 *      from height 3 instead of 432; CLTV from 1 instead of 1351). Network.set('regtest') first.
 *   3. sendrawtransaction awaits mempool acceptance and raises bitcoind's codes: -22 decode,
 *      -25 missing/spent inputs, -26 rejected, -27 already in chain (stock bcoin returned a txid
 *      for any transaction, valid or not).
 *   4. wallet: --wallet-prefix defaults to --prefix (else ~/.bcoin/wallet is opened); getnewaddress
 *      with no argument uses the default account; wallet RPCs first wait until the wallet has
 *      processed the chain tip; wallet sends await mempool acceptance (a refused one is abandoned,
 *      not left in the wallet); setmocktime 0 clears the mock clock instead of setting 1970.
 *   5. wallet RPCs are also served on the node's RPC port, so one URL works, as with bitcoind.
 *
 * Also: lookups of an unknown block or transaction fail with bitcoind's -5, not -1.
 *
 * SIGTERM/SIGINT close the node cleanly (database flushed) and exit 0.
 */

'use strict';

process.env.NODE_BACKEND = 'js';

const WALLET_SYNC_TIMEOUT_MS = 30000;
const POLL_MS = 5;

// ---- fix 2: Bitcoin Core's regtest constants, before any bcoin module builds a Network --------

function patchRegtestNetwork() {
  const networks = require('bcoin/lib/protocol/networks');
  const regtest = networks.regtest;
  regtest.keyPrefix = {
    privkey: 0xef,
    xpubkey: 0x043587cf,
    xprivkey: 0x04358394,
    xpubkey58: 'tpub',
    xprivkey58: 'tprv',
    coinType: 1
  };
  regtest.addressPrefix = {
    pubkeyhash: 0x6f,
    scripthash: 0xc4,
    witnesspubkeyhash: 0x03,
    witnessscripthash: 0x28,
    bech32: 'bcrt'
  };
  regtest.port = 18444;
  regtest.rpcPort = 18443;
  regtest.walletPort = 18445;
  regtest.block.bip34height = 1;
  regtest.block.bip65height = 1;
  regtest.block.bip66height = 1;
  for (const name of ['csv', 'segwit']) {
    // Mutated in place: regtest.deploys holds the same objects.
    regtest.deployments[name].window = 1;
    regtest.deployments[name].threshold = 1;
  }
  const Network = require('bcoin/lib/protocol/network');
  Network.set('regtest');
}

// ---- fix 1: nullish iterator range options ---------------------------------------------------

function patchLevelDown() {
  const LevelDOWN = require('leveldown');
  const iterator = LevelDOWN.prototype.iterator;
  LevelDOWN.prototype.iterator = function (options) {
    const clean = {};
    for (const [key, value] of Object.entries(options || {})) {
      const isRange = key === 'gt' || key === 'gte' || key === 'lt' || key === 'lte';
      if (isRange && value == null)
        continue;
      clean[key] = value;
    }
    return iterator.call(this, clean);
  };
}

// ---- fix 3: sendrawtransaction with bitcoind's error codes -----------------------------------

const CODES = {
  MISC_ERROR: -1,
  INVALID_ADDRESS_OR_KEY: -5,
  DESERIALIZATION_ERROR: -22,
  VERIFY_ERROR: -25,
  VERIFY_REJECTED: -26,
  VERIFY_ALREADY_IN_CHAIN: -27
};

function decodeTX(TX, RPCError, hex) {
  if (typeof hex !== 'string' || hex.length === 0 || !/^([0-9a-fA-F]{2})+$/.test(hex))
    throw new RPCError(CODES.DESERIALIZATION_ERROR, 'TX decode failed');
  const raw = Buffer.from(hex, 'hex');
  let tx;
  try {
    tx = TX.fromRaw(raw);
  } catch (e) {
    throw new RPCError(CODES.DESERIALIZATION_ERROR, `TX decode failed: ${e.message}`);
  }
  if (tx.getSize() !== raw.length)
    throw new RPCError(CODES.DESERIALIZATION_ERROR, 'TX decode failed: trailing data');
  return tx;
}

function makeSendRawTransaction(node) {
  const {RPCError} = require('bweb');
  const TX = require('bcoin/lib/primitives/tx');

  return async function sendRawTransaction(args, help) {
    if (help || args.length < 1 || args.length > 2) {
      throw new RPCError(CODES.MISC_ERROR,
        'sendrawtransaction "hexstring" ( maxfeerate )');
    }
    const tx = decodeTX(TX, RPCError, args[0]);
    const hash = tx.hash('hex');

    if (node.mempool.hasEntry(hash))
      return tx.txid(); // bitcoind: already in the mempool is success.

    if (await node.chain.hasCoins(tx)) {
      throw new RPCError(CODES.VERIFY_ALREADY_IN_CHAIN,
        'Transaction outputs already in utxo set');
    }

    let missing;
    try {
      missing = await node.mempool.addTX(tx);
    } catch (err) {
      if (err.type !== 'VerifyError')
        throw err;
      if (err.reason === 'txn-already-known') {
        throw new RPCError(CODES.VERIFY_ALREADY_IN_CHAIN,
          'Transaction outputs already in utxo set');
      }
      if (err.code === 'highfee')
        throw new RPCError(CODES.VERIFY_ERROR, `${err.reason} (max fee exceeded)`);
      throw new RPCError(CODES.VERIFY_REJECTED, err.reason);
    }

    if (missing) {
      // bitcoind never keeps an RPC-submitted orphan; neither do we.
      if (node.mempool.hasOrphan(hash))
        node.mempool.removeOrphan(hash);
      throw new RPCError(CODES.VERIFY_ERROR, 'bad-txns-inputs-missingorspent');
    }

    if (node.pool.peers.head())
      node.broadcast(tx);

    return tx.txid();
  };
}

// ---- lookups of unknown blocks/transactions: bitcoind's -5, not -1 ----------------------------

const LOOKUPS = ['getblock', 'getblockhash', 'getblockheader', 'getrawtransaction',
  'gettxoutproof'];

function patchNotFoundCodes(node) {
  const {RPCError} = require('bweb');
  for (const method of LOOKUPS) {
    const call = node.rpc.calls[method];
    node.rpc.calls[method] = async function (args, help) {
      try {
        return await call.call(this, args, help);
      } catch (err) {
        if (err.type === 'RPCError' && err.code === CODES.MISC_ERROR
            && /not found/i.test(err.message)) {
          throw new RPCError(CODES.INVALID_ADDRESS_OR_KEY, err.message);
        }
        throw err;
      }
    };
  }
}

// ---- fix 4: wallet behaviour -----------------------------------------------------------------

function sleep(ms) {
  return new Promise(resolve => setTimeout(resolve, ms));
}

async function waitForWalletTip(node, wdb) {
  const deadline = Date.now() + WALLET_SYNC_TIMEOUT_MS;
  while (wdb.state.height !== node.chain.height) {
    if (Date.now() > deadline) {
      throw new Error(`wallet stuck at height ${wdb.state.height},`
        + ` chain at ${node.chain.height}`);
    }
    await sleep(POLL_MS);
  }
}

function patchWalletClient() {
  const NodeClient = require('bcoin/lib/wallet/nodeclient');
  const Wallet = require('bcoin/lib/wallet/wallet');

  // Stock send() was fire-and-forget (node.relay swallows errors): await acceptance instead.
  NodeClient.prototype.send = async function send(tx) {
    let missing;
    try {
      missing = await this.node.mempool.addTX(tx);
    } catch (err) {
      err.walletTX = tx;
      throw err;
    }
    if (missing) {
      const err = new Error(`wallet transaction ${tx.txid()} spends unknown inputs`);
      err.walletTX = tx;
      throw err;
    }
  };

  // A send the mempool refused must not stay in the wallet (its coins would look spent and
  // later sends would chain on a transaction nobody has): abandon it, then report the error.
  const send = Wallet.prototype.send;
  Wallet.prototype.send = async function sendOrAbandon(options, passphrase) {
    try {
      return await send.call(this, options, passphrase);
    } catch (err) {
      if (err.walletTX) {
        await this.abandon(err.walletTX.hash('hex')).catch(() => {});
        err.message = `transaction rejected by the mempool: ${err.message}`;
      }
      throw err;
    }
  };
}

function patchWalletRPC(node, walletPlugin) {
  const {RPCError} = require('bweb');
  const rpc = walletPlugin.rpc;

  rpc.calls.getnewaddress = async function getNewAddress(args, help) {
    // bitcoind: getnewaddress ( "label" "address_type" ); bcoin has accounts, not labels.
    if (help || args.length > 2)
      throw new RPCError(CODES.MISC_ERROR, 'getnewaddress ( "label" "address_type" )');
    const addr = await this.wallet.createReceive('default');
    return addr.getAddress('string');
  };

  const execute = rpc.execute.bind(rpc);
  rpc.execute = async function executeAfterSync(json, help) {
    await waitForWalletTip(node, walletPlugin.wdb);
    return execute(json, help);
  };
}

function patchSetMockTime(node) {
  const setMockTime = node.rpc.calls.setmocktime;
  node.rpc.calls.setmocktime = async function (args, help) {
    if (!help && args.length === 1 && Number(args[0]) === 0) {
      this.network.time.offset = 0; // bitcoind: 0 turns the mock clock off.
      return null;
    }
    return setMockTime.call(this, args, help);
  };
}

function ensureWalletPrefix(argv) {
  const has = name => argv.some(a => a === `--${name}` || a.startsWith(`--${name}=`));
  const prefix = argv.find(a => a.startsWith('--prefix='));
  if (prefix && !has('wallet-prefix'))
    argv.push(`--wallet-prefix=${prefix.slice('--prefix='.length)}`);
}

// ---- start -----------------------------------------------------------------------------------

function buildNode() {
  ensureWalletPrefix(process.argv);
  const FullNode = require('bcoin/lib/node/fullnode');
  const node = new FullNode({
    network: 'regtest',
    config: false,
    argv: true,
    env: false,
    memory: false,
    logFile: false,
    logConsole: true,
    logLevel: 'info',
    workers: false,
    listen: false,
    loader: require
  });
  const walletPlugin = node.use(require('bcoin/lib/wallet/plugin'));
  node.rpc.calls.sendrawtransaction = makeSendRawTransaction(node);
  patchSetMockTime(node);
  patchNotFoundCodes(node);
  patchWalletRPC(node, walletPlugin);
  node.rpc.mount(walletPlugin.rpc); // fix 5: one RPC URL for node and wallet calls.
  return node;
}

function installSignalHandlers(node) {
  let closing = false;
  const close = async (signal) => {
    if (closing)
      return;
    closing = true;
    console.error(`[launcher] ${signal}: closing node`);
    try {
      await node.close();
    } finally {
      process.exit(0);
    }
  };
  process.on('SIGTERM', () => close('SIGTERM'));
  process.on('SIGINT', () => close('SIGINT'));
}

async function main() {
  patchRegtestNetwork();
  patchLevelDown();
  patchWalletClient();
  const node = buildNode();
  installSignalHandlers(node);
  await node.ensure();
  await node.open();
  if (node.config.bool('listen', false)) {
    await node.connect();
    node.startSync();
  }
  console.error(`[launcher] ready: regtest height=${node.chain.height}`
    + ` rpc=${node.http.options.host}:${node.http.options.port}`);
}

process.on('unhandledRejection', (err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});

main().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
