// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title CommitteeVault: pool ether and ERC-20 held by the ETM vault committee (m-of-n)
/// @notice One vault per chain, no owner, no admin, no upgrade. Value ENTERS by `deposit` /
///         `depositToken` (an investor, naming the ETM owner, as PoolVault does) and by
///         `claimSwapIn` / `refundCounterLock`, which anyone may call because they can only
///         move value from the EtherSwapHTLC into this vault. Value LEAVES only through
///         `executeCounterLock` (a lock into the HTLC with exactly the signed terms, refundable
///         to this vault), `executePayout` (an LP withdrawal to its bound address) and, for the
///         signer set, `executeRotate`; each needs signatures of at least `threshold` distinct
///         members of the current set over EIP-712 typed data naming the ETM mandate id.
/// @dev    Signature rule (ETM applies the same one, design-14 §3.3): 65 bytes r || s || v,
///         v in {27, 28}, s <= n/2, recovered signers strictly ascending (so distinct and never
///         address(0)), each a member of the current epoch's set, at least `threshold` of them;
///         the struct's `epoch` must equal the vault's, so old keys are refused the moment a
///         rotation lands. `executed[mandateId]` allows one execution per mandate, over every
///         revision and kind. Every outgoing move emits an event naming the mandate and the
///         EIP-712 digest that authorised it, which is what ETM proves (receipt proofs).
///         Reentrancy: each function makes its own effects (executed[mandateId] first) before
///         any external call, and a transient lock refuses every nested call into the vault
///         (e.g. from a payee's token hook). `token == address(0)` means ether.
contract CommitteeVault {
    /// @notice Version of the contract's rules (also the EIP-712 domain version); bumped on any
    ///         change to hashing, signature rules, events or semantics.
    uint8 public constant version = 1;
    /// @notice Largest signer set (the ETM genesis `max_committee` may not exceed it).
    uint256 public constant MAX_SIGNERS = 15;

    bytes32 public constant DOMAIN_TYPEHASH = keccak256(
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract,bytes32 salt)"
    );
    bytes32 public constant COUNTER_LOCK_TYPEHASH = keccak256(
        "CounterLock(bytes32 mandateId,uint64 epoch,bytes32 preimageHash,address token,uint256 amount,address claimAddress,uint256 timelock,uint64 deadline)"
    );
    bytes32 public constant PAYOUT_TYPEHASH = keccak256(
        "Payout(bytes32 mandateId,uint64 epoch,address token,uint256 amount,address to,uint64 deadline)"
    );
    bytes32 public constant ROTATE_TYPEHASH = keccak256(
        "Rotate(bytes32 mandateId,uint64 epoch,uint64 newEpoch,address[] newSigners,uint8 newThreshold)"
    );
    bytes32 private constant NAME_HASH = keccak256("etm-bridge CommitteeVault");
    bytes32 private constant VERSION_HASH = keccak256("1");
    /// @dev secp256k1 order / 2: a larger s is the malleated twin of a valid signature.
    uint256 private constant HALF_ORDER =
        0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    /// @notice The EtherSwapHTLC this vault locks into and claims/refunds from. Set once by the
    ///         constructor, no function writes it. A storage slot rather than an `immutable`
    ///         (patched into the runtime code) so deployers can check the code byte for byte
    ///         against the artifact, as for PoolVault.
    address public htlc;
    /// @notice The ETM chain's custody domain (genesis `plugins.custody.domain`): the EIP-712
    ///         `salt`, so a signature is valid for one ETM deployment only. Written once.
    bytes32 public etmDomain;
    /// @notice The active signer set's epoch (the ETM committee epoch), its threshold m, and
    ///         its members (ascending, distinct, non-zero, 1..MAX_SIGNERS, m = 2n/3 + 1).
    uint64 public epoch;
    uint8 public threshold;
    address[] private _signers;
    /// @dev epoch + 1 of the last set that named the address: membership of the current set is
    ///      `memberOf[a] == epoch + 1`, without clearing old sets.
    mapping(address => uint64) private memberOf;
    /// @notice ETM mandate id => executed (replay protection over all revisions and kinds).
    mapping(bytes32 => bool) public executed;
    /// @dev Set while a value-moving function runs (EIP-1153 transient storage, cleared at the
    ///      end of the transaction): a token hook or any other code a call hands control to
    ///      cannot re-enter the vault. Defence in depth: every function already finishes its
    ///      own effects before its external calls (checks-effects-interactions).
    bool private transient _entered;

    /// @notice An ETM `counter_lock` mandate: lock `amount` of `token` in the HTLC for
    ///         `claimAddress` (the user's bound address) under `preimageHash` until `timelock`
    ///         (an Ethereum block number); this vault is the refund address.
    struct CounterLock {
        bytes32 mandateId;
        uint64 epoch;
        bytes32 preimageHash;
        address token;
        uint256 amount;
        address claimAddress;
        uint256 timelock;
        uint64 deadline;
    }

    /// @notice An ETM `lp_withdraw` mandate: pay `amount` of `token` to `to` (the bound address).
    struct Payout {
        bytes32 mandateId;
        uint64 epoch;
        address token;
        uint256 amount;
        address to;
        uint64 deadline;
    }

    /// @notice An ETM `vault_rotation` mandate, signed by the current set: the next set.
    struct Rotate {
        bytes32 mandateId;
        uint64 epoch;
        uint64 newEpoch;
        address[] newSigners;
        uint8 newThreshold;
    }

    /// @notice Same signature as PoolVault's, so ETM reads both the same way.
    event Deposited(bytes20 indexed etmOwner, address indexed from, address token, uint256 amount);
    event CounterLocked(
        bytes32 indexed mandateId, bytes32 indexed swapHash, bytes32 digest, address token, uint256 amount
    );
    event Paid(
        bytes32 indexed mandateId, address indexed to, bytes32 digest, address token, uint256 amount
    );
    event Rotated(
        bytes32 indexed mandateId, uint64 indexed newEpoch, bytes32 digest, address[] signers, uint8 threshold
    );
    event SwapInClaimed(bytes32 indexed preimageHash, bytes32 indexed swapHash, address token, uint256 amount);
    event CounterRefunded(bytes32 indexed preimageHash, bytes32 indexed swapHash, address token, uint256 amount);

    error NotCurrentEpoch(uint64 signed, uint64 current);
    error AlreadyExecuted(bytes32 mandateId);
    error Expired(uint64 deadline, uint256 nowTs);
    error BadSignature(uint256 index);
    error SignersNotAscending(uint256 index);
    error NotASigner(address signer);
    error TooFewSignatures(uint256 valid, uint8 threshold);
    error BadSignerSet();
    error EpochNotAfter(uint64 newEpoch, uint64 current);
    error InvalidDomain();
    error ZeroAmount();
    error InvalidAddress();
    error InvalidEtmOwner();
    error InsufficientBalance(uint256 balance, uint256 needed);
    error OnlyHtlc();
    error TokenAmountMismatch(uint256 expected, uint256 received);
    error TokenTransferFailed();
    error Reentrancy();

    /// @dev One vault call at a time; `receive()` (the HTLC paying a claim or refund back to
    ///      the vault) does not take the lock, so claimSwapIn/refundCounterLock still work.
    modifier nonReentrant() {
        if (_entered) revert Reentrancy();
        _entered = true;
        _;
        _entered = false;
    }

    /// @param htlc_ the deployed EtherSwapHTLC (must hold code)
    /// @param etmDomain_ the ETM custody domain (non-zero), the EIP-712 salt
    /// @param signers_ the epoch-0 committee's addresses, ascending; `threshold_` = 2n/3 + 1
    constructor(address htlc_, bytes32 etmDomain_, address[] memory signers_, uint8 threshold_) {
        if (htlc_.code.length == 0) revert InvalidAddress();
        if (etmDomain_ == bytes32(0)) revert InvalidDomain();
        htlc = htlc_;
        etmDomain = etmDomain_;
        _setSigners(0, signers_, threshold_);
    }

    /// @notice Only the HTLC pays ether in without a call that emits our own event (its claim
    ///         and refund pay msg.sender = this vault). Anything else is refused, so no value
    ///         arrives unexplained, except a forced SELFDESTRUCT (seen only in the balance).
    receive() external payable {
        if (msg.sender != htlc) revert OnlyHtlc();
    }

    // ---- views ---------------------------------------------------------------------------

    function signers() external view returns (address[] memory) {
        return _signers;
    }

    function isSigner(address who) external view returns (bool) {
        return memberOf[who] == uint256(epoch) + 1;
    }

    function domainSeparator() public view returns (bytes32) {
        return keccak256(
            abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this), etmDomain)
        );
    }

    /// @notice The EIP-712 digest the members sign for `c` (0x1901 || domain || hashStruct).
    function hashCounterLock(CounterLock calldata c) public view returns (bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(
                COUNTER_LOCK_TYPEHASH, c.mandateId, c.epoch, c.preimageHash, c.token, c.amount,
                c.claimAddress, c.timelock, c.deadline
            )
        );
        return _digest(structHash);
    }

    function hashPayout(Payout calldata p) public view returns (bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(PAYOUT_TYPEHASH, p.mandateId, p.epoch, p.token, p.amount, p.to, p.deadline)
        );
        return _digest(structHash);
    }

    /// @dev EIP-712 encodes `address[]` as keccak256 of the 32-byte-padded elements, which is
    ///      what abi.encodePacked gives for an array.
    function hashRotate(Rotate calldata r) public view returns (bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(
                ROTATE_TYPEHASH, r.mandateId, r.epoch, r.newEpoch,
                keccak256(abi.encodePacked(r.newSigners)), r.newThreshold
            )
        );
        return _digest(structHash);
    }

    // ---- permissionless: value only ever moves INTO the vault -----------------------------

    /// @notice Deposit msg.value wei into the pool for the ETM address whose 20-byte hash is
    ///         `etmOwner`. The ether stays here.
    function deposit(bytes20 etmOwner) external payable nonReentrant {
        if (etmOwner == bytes20(0)) revert InvalidEtmOwner();
        if (msg.value == 0) revert ZeroAmount();
        emit Deposited(etmOwner, msg.sender, address(0), msg.value);
    }

    /// @notice Deposit `amount` of `token` (pulled with transferFrom; approve this vault first).
    function depositToken(address token, uint256 amount, bytes20 etmOwner) external nonReentrant {
        if (etmOwner == bytes20(0)) revert InvalidEtmOwner();
        if (token == address(0)) revert InvalidAddress();
        if (amount == 0) revert ZeroAmount();
        _requireCode(token);
        uint256 balanceBefore = IERC20Vault(token).balanceOf(address(this));
        // Reentrancy-sensitive: hands control to the token. A nested deposit or transfer into
        // the vault changes the balance delta checked below, so it reverts, never over-counts.
        _callToken(token, abi.encodeCall(IERC20Vault.transferFrom, (msg.sender, address(this), amount)));
        uint256 received = IERC20Vault(token).balanceOf(address(this)) - balanceBefore;
        // Fee-on-transfer or rebasing tokens would make the event a lie: refuse them.
        if (received != amount) revert TokenAmountMismatch(amount, received);
        emit Deposited(etmOwner, msg.sender, token, amount);
    }

    /// @notice Claim a user's swap-in lock whose claim address is this vault (anyone may call:
    ///         the HTLC pays its claim address, msg.sender = this vault, never the caller).
    function claimSwapIn(
        bytes calldata preimage,
        uint256 amount,
        address token,
        address refundAddress,
        uint256 timelock
    ) external nonReentrant {
        // The HTLC checks the preimage (32 bytes, sha256) and that the values name a live lock.
        bytes32 preimageHash = sha256(preimage);
        bytes32 swapHash = _swapHash(preimageHash, amount, token, address(this), refundAddress, timelock);
        // Reentrancy-sensitive: the HTLC pays ether through our receive() (which only checks the
        // sender) or moves tokens; the vault has no state here for a reentrant call to corrupt.
        IHtlc(htlc).claim(preimage, amount, token, refundAddress, timelock);
        emit SwapInClaimed(preimageHash, swapHash, token, amount);
    }

    /// @notice Refund an expired counter lock to this vault (its refund address; anyone may call).
    function refundCounterLock(
        bytes32 preimageHash,
        uint256 amount,
        address token,
        address claimAddress,
        uint256 timelock
    ) external nonReentrant {
        bytes32 swapHash = _swapHash(preimageHash, amount, token, claimAddress, address(this), timelock);
        // Reentrancy-sensitive: as in claimSwapIn, value only flows from the HTLC to the vault.
        IHtlc(htlc).refund(preimageHash, amount, token, claimAddress, timelock);
        emit CounterRefunded(preimageHash, swapHash, token, amount);
    }

    // ---- m-of-n: value leaves only under a mandate ----------------------------------------

    /// @notice Lock exactly the mandated terms into the HTLC; the vault is the refund address.
    function executeCounterLock(CounterLock calldata c, bytes[] calldata sigs) external nonReentrant {
        if (c.amount == 0) revert ZeroAmount();
        bytes32 digest = hashCounterLock(c);
        // Effects first: executed[mandateId] is set inside _authorise, before any external call.
        _authorise(c.mandateId, c.epoch, c.deadline, digest, sigs);
        bytes32 swapHash;
        if (c.token == address(0)) {
            _requireEther(c.amount);
            // Reentrancy-sensitive: calls the HTLC (fixed at construction); our state is final.
            swapHash = IHtlc(htlc).lock{value: c.amount}(c.preimageHash, c.claimAddress, c.timelock);
        } else {
            // Reentrancy-sensitive: the token and the HTLC run; our state is final. lockToken
            // pulls exactly `amount` (checking its own balance delta), consuming the allowance.
            _callToken(c.token, abi.encodeCall(IERC20Vault.approve, (htlc, c.amount)));
            swapHash = IHtlc(htlc).lockToken(c.preimageHash, c.token, c.amount, c.claimAddress, c.timelock);
        }
        emit CounterLocked(c.mandateId, swapHash, digest, c.token, c.amount);
    }

    /// @notice Pay an LP withdrawal. Ether is forced onto `to` (an EtherDrop self-destructs to
    ///         it, no code of `to` runs), so a payee cannot refuse and block its own payout.
    function executePayout(Payout calldata p, bytes[] calldata sigs) external nonReentrant {
        if (p.to == address(0) || p.to == address(this)) revert InvalidAddress();
        if (p.amount == 0) revert ZeroAmount();
        bytes32 digest = hashPayout(p);
        _authorise(p.mandateId, p.epoch, p.deadline, digest, sigs);
        emit Paid(p.mandateId, p.to, digest, p.token, p.amount);
        if (p.token == address(0)) {
            _requireEther(p.amount);
            // No external code runs: the child's constructor self-destructs to `to`.
            new CommitteeEtherDrop{value: p.amount}(payable(p.to));
        } else {
            _requireCode(p.token);
            uint256 balanceBefore = IERC20Vault(p.token).balanceOf(p.to);
            // Reentrancy-sensitive: hands control to the token; our state is final.
            _callToken(p.token, abi.encodeCall(IERC20Vault.transfer, (p.to, p.amount)));
            uint256 received = IERC20Vault(p.token).balanceOf(p.to) - balanceBefore;
            if (received != p.amount) revert TokenAmountMismatch(p.amount, received);
        }
    }

    /// @notice Replace the signer set, signed by `threshold` members of the current set.
    function executeRotate(Rotate calldata r, bytes[] calldata sigs) external nonReentrant {
        if (r.newEpoch <= epoch) revert EpochNotAfter(r.newEpoch, epoch);
        bytes32 digest = hashRotate(r);
        _authorise(r.mandateId, r.epoch, type(uint64).max, digest, sigs);
        _setSigners(r.newEpoch, r.newSigners, r.newThreshold);
        emit Rotated(r.mandateId, r.newEpoch, digest, r.newSigners, r.newThreshold);
    }

    // ---- internals ------------------------------------------------------------------------

    /// @dev Checks the epoch, the deadline and replay, marks the mandate executed (before any
    ///      external call: checks-effects-interactions), then requires `threshold` valid,
    ///      strictly ascending signatures of current members over `digest`.
    function _authorise(
        bytes32 mandateId,
        uint64 signedEpoch,
        uint64 deadline,
        bytes32 digest,
        bytes[] calldata sigs
    ) private {
        uint64 current = epoch;
        if (signedEpoch != current) revert NotCurrentEpoch(signedEpoch, current);
        if (block.timestamp > deadline) revert Expired(deadline, block.timestamp);
        if (executed[mandateId]) revert AlreadyExecuted(mandateId);
        executed[mandateId] = true;
        uint64 member = current + 1;
        address last = address(0);
        for (uint256 i = 0; i < sigs.length; i++) {
            address who = _recover(digest, sigs[i], i);
            if (who <= last) revert SignersNotAscending(i); // sorted, distinct, never address(0)
            if (memberOf[who] != member) revert NotASigner(who);
            last = who;
        }
        if (sigs.length < threshold) revert TooFewSignatures(sigs.length, threshold);
    }

    function _recover(bytes32 digest, bytes calldata sig, uint256 index) private pure returns (address who) {
        if (sig.length != 65) revert BadSignature(index);
        bytes32 r = bytes32(sig[0:32]);
        bytes32 s = bytes32(sig[32:64]);
        uint8 v = uint8(sig[64]);
        if (uint256(s) > HALF_ORDER || (v != 27 && v != 28)) revert BadSignature(index);
        who = ecrecover(digest, v, r, s);
        if (who == address(0)) revert BadSignature(index);
    }

    function _setSigners(uint64 newEpoch, address[] memory set, uint8 m) private {
        uint256 n = set.length;
        // newEpoch + 1 must fit the membership mark.
        if (n == 0 || n > MAX_SIGNERS || m != (2 * n) / 3 + 1 || newEpoch == type(uint64).max) {
            revert BadSignerSet();
        }
        for (uint256 i = 0; i < n; i++) {
            if (set[i] == address(0) || (i > 0 && set[i] <= set[i - 1])) revert BadSignerSet();
            memberOf[set[i]] = newEpoch + 1;
        }
        _signers = set;
        epoch = newEpoch;
        threshold = m;
    }

    function _requireEther(uint256 amount) private view {
        if (address(this).balance < amount) revert InsufficientBalance(address(this).balance, amount);
    }

    function _digest(bytes32 structHash) private view returns (bytes32) {
        return keccak256(abi.encodePacked(hex"1901", domainSeparator(), structHash));
    }

    /// @dev EtherSwapHTLC.hashValues, computed here (the same packed encoding).
    function _swapHash(
        bytes32 preimageHash,
        uint256 amount,
        address token,
        address claimAddress,
        address refundAddress,
        uint256 timelock
    ) private pure returns (bytes32) {
        return keccak256(abi.encodePacked(preimageHash, amount, token, claimAddress, refundAddress, timelock));
    }

    /// @dev A call to an address without code "succeeds" with no effect, and a typed call
    ///      (balanceOf) to one reverts without data: name it instead.
    function _requireCode(address token) private view {
        if (token.code.length == 0) revert TokenTransferFailed();
    }

    /// @dev Accepts tokens that return nothing (USDT style) as well as those returning true.
    function _callToken(address token, bytes memory data) private {
        _requireCode(token);
        (bool ok, bytes memory ret) = token.call(data);
        if (!ok || (ret.length != 0 && !abi.decode(ret, (bool)))) revert TokenTransferFailed();
    }
}

/// @dev The EtherSwapHTLC functions the vault calls.
interface IHtlc {
    function lock(bytes32 preimageHash, address claimAddress, uint256 timelock)
        external
        payable
        returns (bytes32 swapHash);
    function lockToken(bytes32 preimageHash, address token, uint256 amount, address claimAddress, uint256 timelock)
        external
        returns (bytes32 swapHash);
    function claim(bytes calldata preimage, uint256 amount, address token, address refundAddress, uint256 timelock)
        external;
    function refund(bytes32 preimageHash, uint256 amount, address token, address claimAddress, uint256 timelock)
        external;
}

/// @dev The four ERC-20 functions the vault calls.
interface IERC20Vault {
    function balanceOf(address owner) external view returns (uint256);
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
    function approve(address spender, uint256 amount) external returns (bool);
}

/// @dev Created by `executePayout` with the payout's value, it self-destructs in its constructor
///      to the payee: SELFDESTRUCT moves the balance without calling the beneficiary (no
///      `receive`, no fallback, no delegated code runs), so no address can refuse a payout.
///      Created and destroyed in one transaction, it leaves no code behind (EIP-6780). The same
///      code as PoolVault's EtherDrop, under its own name so each source compiles alone.
contract CommitteeEtherDrop {
    constructor(address payable to) payable {
        selfdestruct(to);
    }
}
