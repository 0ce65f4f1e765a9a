// Derives the Handshake codec/sighash/address test vectors from hsd's own code (the npm package
// pinned in package.json), so the Python implementation is checked against the reference node.
// Run from the repository root after `make deps`:
//   NODE_BACKEND=js node tests/unit/handshake/vectors/make_hsd_vectors.js \
//     > tests/unit/handshake/vectors/hsd_vectors.json
// Everything is deterministic (fixed keys and values; RFC 6979 signatures).
'use strict';

process.env.NODE_BACKEND = 'js';
const path = require('path');
const hsd = path.join(process.cwd(), 'node_modules', 'hsd', 'lib');
const TX = require(path.join(hsd, 'primitives', 'tx'));
const MTX = require(path.join(hsd, 'primitives', 'mtx'));
const Input = require(path.join(hsd, 'primitives', 'input'));
const Output = require(path.join(hsd, 'primitives', 'output'));
const Outpoint = require(path.join(hsd, 'primitives', 'outpoint'));
const Address = require(path.join(hsd, 'primitives', 'address'));
const Script = require(path.join(hsd, 'script', 'script'));
const Opcode = require(path.join(hsd, 'script', 'opcode'));
const Witness = require(path.join(hsd, 'script', 'witness'));
const KeyRing = require(path.join(hsd, 'primitives', 'keyring'));
const {hashType} = Script;
const blake2b = require(path.join(process.cwd(), 'node_modules', 'hsd', 'node_modules',
  'bcrypto', 'lib', 'blake2b'));

const hex = b => b.toString('hex');
const key = n => Buffer.alloc(32, n);
const ringA = KeyRing.fromPrivate(key(0x11));
const ringB = KeyRing.fromPrivate(key(0x22));

function htlcScript(hashlock, claimKey, refundKey, height) {
  return Script.fromArray([
    Opcode.fromSymbol('if'),
    Opcode.fromSymbol('size'), Opcode.fromInt(32), Opcode.fromSymbol('equalverify'),
    Opcode.fromSymbol('sha256'), Opcode.fromPush(hashlock), Opcode.fromSymbol('equalverify'),
    Opcode.fromPush(claimKey),
    Opcode.fromSymbol('else'),
    Opcode.fromInt(height), Opcode.fromSymbol('checklocktimeverify'), Opcode.fromSymbol('drop'),
    Opcode.fromPush(refundKey),
    Opcode.fromSymbol('endif'),
    Opcode.fromSymbol('checksig')
  ]);
}

const hashlock = blake2b.digest(Buffer.from('etm-bridge vector hashlock'), 32);
const scripts = [5, 16, 17, 127, 128, 255, 256, 65535, 70000, 0x7fffffff].map((h) => {
  const s = htlcScript(hashlock, ringB.getPublicKey(), ringA.getPublicKey(), h);
  const addr = Address.fromScript(s);
  return {height: h, script: hex(s.encode()), address_hash: hex(addr.hash),
    regtest: addr.toString('regtest'), main: addr.toString('main')};
});

// A transaction with every part: two inputs (a pay-to-key and an HTLC spend), three outputs
// (pay-to-key, pay-to-script, nulldata), a locktime, non-final sequences and witnesses.
const htlc = htlcScript(hashlock, ringB.getPublicKey(), ringA.getPublicKey(), 200);
const mtx = new MTX();
mtx.version = 0;
const prevA = blake2b.digest(Buffer.from('prev a'), 32);
const prevB = blake2b.digest(Buffer.from('prev b'), 32);
mtx.inputs.push(Input.fromOutpoint(new Outpoint(prevA, 1)));
mtx.inputs.push(Input.fromOutpoint(new Outpoint(prevB, 0)));
mtx.inputs[0].sequence = 0xfffffffe;
mtx.inputs[1].sequence = 0xfffffffd;
mtx.outputs.push(Output.fromScript(Address.fromPubkey(ringB.getPublicKey()), 123456789));
mtx.outputs.push(Output.fromScript(Address.fromScript(htlc), 1000000));
mtx.outputs.push(Output.fromScript(Address.fromNulldata(Buffer.alloc(40, 0xab)), 0));
mtx.locktime = 200;
const valueA = 500000000;
const valueB = 2000000;
const p2pkh = Script.fromPubkeyhash(ringA.getKeyHash());
const sighashes = [];
for (const [name, type] of [['ALL', hashType.ALL], ['NONE', hashType.NONE],
  ['SINGLE', hashType.SINGLE], ['SINGLEREVERSE', hashType.SINGLEREVERSE],
  ['ALL|ANYONECANPAY', hashType.ALL | hashType.ANYONECANPAY],
  ['SINGLE|ANYONECANPAY', hashType.SINGLE | hashType.ANYONECANPAY],
  ['ALL|NOINPUT', hashType.ALL | hashType.NOINPUT]]) {
  for (const index of [0, 1]) {
    const prev = index === 0 ? p2pkh : htlc;
    const value = index === 0 ? valueA : valueB;
    sighashes.push({type: name, type_value: type, index, script: hex(prev.encode()), value,
      digest: hex(mtx.signatureHash(index, prev, value, type))});
  }
}
const sigA = mtx.signature(0, p2pkh, valueA, ringA.getPrivateKey(), hashType.ALL);
const preimage = Buffer.alloc(32, 0x5a);
const sigB = mtx.signature(1, htlc, valueB, ringB.getPrivateKey(), hashType.ALL);
mtx.inputs[0].witness = Witness.fromItems([sigA, ringA.getPublicKey()]);
mtx.inputs[1].witness = Witness.fromItems([sigB, preimage, Buffer.from([1]), htlc.encode()]);
const tx = mtx.toTX();

console.log(JSON.stringify({
  generator: 'tests/unit/handshake/vectors/make_hsd_vectors.js',
  hsd_version: require(path.join(process.cwd(), 'node_modules', 'hsd', 'package.json')).version,
  keys: [ringA, ringB].map((r, i) => ({secret: hex(key(i === 0 ? 0x11 : 0x22)),
    pubkey: hex(r.getPublicKey()), key_hash: hex(r.getKeyHash()),
    regtest: r.getAddress().toString('regtest'), main: r.getAddress().toString('main')})),
  hashlock: hex(hashlock),
  htlc_scripts: scripts,
  tx: {raw: hex(tx.encode()), base: hex(tx.encode().slice(0, tx.getSizes().base)),
    txid: tx.txid(), wtxid: tx.wtxid(), vsize: tx.getVirtualSize(), weight: tx.getWeight(),
    value_a: valueA, value_b: valueB, htlc_script: hex(htlc.encode()),
    signature_a: hex(sigA), signature_b: hex(sigB), preimage: hex(preimage)},
  sighashes,
  dust: [Address.fromPubkey(ringA.getPublicKey()), Address.fromScript(htlc)].map(a => ({
    address_hash: hex(a.hash), threshold: Output.fromScript(a, 0).getDustThreshold(1000)}))
}, null, 1));
