// Derives the Handshake SPV test vectors (headers, proof-of-work hash, compact bits, the
// per-block retarget, Merkle roots) from hsd's own code (the npm package pinned in
// package.json), so etm_bridge/chains/handshake/spv is checked against the reference node.
// Run from the repository root after `make deps`:
//   NODE_BACKEND=js node tests/unit/handshake/spv/vectors/make_hns_spv_vectors.js \
//     > tests/unit/handshake/spv/vectors/hns_spv_vectors.json
// Deterministic: a fixed xorshift PRNG feeds every synthetic value.
'use strict';

process.env.NODE_BACKEND = 'js';
const path = require('path');
const hsd = path.join(process.cwd(), 'node_modules', 'hsd', 'lib');
const Headers = require(path.join(hsd, 'primitives', 'headers'));
const consensus = require(path.join(hsd, 'protocol', 'consensus'));
const genesis = require(path.join(hsd, 'protocol', 'genesis'));
const Network = require(path.join(hsd, 'protocol', 'network'));
const Chain = require(path.join(hsd, 'blockchain', 'chain'));
const ChainEntry = require(path.join(hsd, 'blockchain', 'chainentry'));
const bcrypto = path.join(process.cwd(), 'node_modules', 'hsd', 'node_modules', 'bcrypto', 'lib');
const blake2b = require(path.join(bcrypto, 'blake2b'));
const merkle = require(path.join(bcrypto, 'mrkl'));
const BN = require(path.join(bcrypto, 'bn'));

let seed = 0x9e3779b9;
function rand32() {
  seed ^= seed << 13; seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5; seed >>>= 0;
  return seed;
}
function randBytes(n) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = rand32() & 0xff;
  return b;
}
const hex = b => b.toString('hex');

// 1. genesis headers and hashes
const genesisOut = {};
for (const name of ['main', 'regtest']) {
  const raw = genesis[name + 'Data'].slice(0, consensus.HEADER_SIZE);
  const h = Headers.fromHead(raw);
  genesisOut[name] = {header: hex(raw), hash: hex(h.hash()), bits: h.bits, time: h.time,
    network_hash: Network.get(name).genesis.hash.toString('hex')};
}

// 2. proof-of-work hashes of random headers
const pow = [];
for (let i = 0; i < 24; i++) {
  const raw = randBytes(consensus.HEADER_SIZE);
  raw.writeUInt32LE(1580000000 + rand32() % 100000000, 4);
  raw.writeUInt32LE(0, 8);  // hsd refuses a time of 2^53 or more
  raw.writeUInt32LE([0x207fffff, 0x2000ffff, 0x1c00ffff, rand32()][i % 4], 200);
  const h = Headers.fromHead(raw);
  pow.push({header: hex(raw), hash: hex(h.hash()), bits: h.bits,
    valid: consensus.verifyPOW(h.hash(), h.bits)});
}

// 3. compact bits
const compact = [];
const bitsCases = [0x1c00ffff, 0x207fffff, 0x19049fed, 0x1d00ffff, 0x01003456, 0x01123456,
  0x02123456, 0x03123456, 0x04123456, 0x04923456, 0x05009234, 0x20123456, 0x21010000,
  0x22010000, 0x23000001, 0x00000000, 0x00123456, 0x01800000, 0x1b0404cb];
for (const bits of bitsCases) {
  const target = consensus.fromCompact(bits);
  const hash = Buffer.alloc(32, 0);
  compact.push({bits, target: target.isNeg() ? '-' + target.abs().toString(16)
    : target.toString(16), roundtrip: target.isNeg() || target.isZero() ? null
    : consensus.toCompact(target), pow_of_zero_hash: consensus.verifyPOW(hash, bits)});
}

// 4. the retarget on synthetic chains (hsd's getTarget over a fake chain context)
function chainVectors(pow, spacings) {
  const entries = [];
  const ctx = {
    network: {pow},
    logger: {debug() {}},
    getPrevious: async e => entries[e.height - 1],
    getAncestor: async (e, h) => entries[h],
    getSuitableBlock: Chain.prototype.getSuitableBlock,
    retarget: Chain.prototype.retarget,
  };
  return (async () => {
    let time = 1580745078;
    for (let height = 0; height < spacings.length; height++) {
      time += spacings[height];
      const prev = height ? entries[height - 1] : null;
      const bits = prev ? await Chain.prototype.getTarget.call(ctx, time, prev) : pow.bits;
      const entry = new ChainEntry();
      entry.height = height; entry.time = time; entry.bits = bits;
      entry.chainwork = prev ? prev.chainwork.add(entry.getProof()) : entry.getProof();
      entries.push(entry);
    }
    return entries.map(e => [e.time, e.bits, e.chainwork.toString(16)]);
  })();
}
function spacingPlan() {
  const s = [0];
  const push = (n, f) => { for (let i = 0; i < n; i++) s.push(f(i)); };
  push(160, () => 600);
  push(60, () => 1);             // far too fast: clamp low (36 x 600 s)
  push(40, i => (i % 3 === 0 ? 0 : 300));  // equal timestamps
  push(30, i => (i % 4 === 1 ? -700 : 900)); // times that go backwards
  push(60, () => 20000);         // far too slow: clamp high (576 x 600 s)
  push(50, () => 400 + (rand32() % 500));
  return s;
}
function easyPow() {
  const p = Object.assign({}, Network.get('regtest').pow);
  p.noRetargeting = false; p.targetReset = false;
  return p;
}

// 5. Merkle roots (bcrypto mrkl with BLAKE2b, as block.createMerkleRoot)
const merkleOut = [];
for (const n of [1, 2, 3, 4, 5, 6, 7, 9, 13]) {
  const txids = [];
  for (let i = 0; i < n; i++) txids.push(randBytes(32));
  merkleOut.push({txids: txids.map(hex), root: hex(merkle.createRoot(blake2b, txids))});
}

(async () => {
  const out = {
    source: 'hsd ' + require(path.join(hsd, '..', 'package.json')).version,
    genesis: genesisOut,
    pow,
    compact,
    retarget: {
      easy_main: await chainVectors(easyPow(), spacingPlan()),
      main: await chainVectors(Network.get('main').pow, spacingPlan()),
    },
    merkle: merkleOut,
    sentinel: hex(blake2b.digest(Buffer.alloc(0))),
  };
  void BN;
  process.stdout.write(JSON.stringify(out, null, 1) + '\n');
})();
