// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ITaskManagerErrors} from "../interfaces/ITaskManagerErrors.sol";
import {ITaskManagerEvents} from "../interfaces/ITaskManagerEvents.sol";
import {IParticipantRegistry} from "../interfaces/IParticipantRegistry.sol";
import {IModelRegistry} from "../interfaces/IModelRegistry.sol";
import {Accounts} from "../libraries/Accounts.sol";
import {Bitmaps} from "../libraries/Bitmaps.sol";

/// @title TaskStorage
/// @notice Storage layout and small shared helpers of the TaskManager modules.
/// @dev Gas layout (see docs/contracts.md): a task is six packed slots; `_states` is the hot one
///      (a submission reads it and the client's account word, and writes nothing). Round
///      outcomes are bit streams: client i of round r is bit r*n + i of `_accepted` (and the
///      16-bit word r*n + i of `_weights`), so a settlement reads one or two words.
///      Both deployed halves (TaskManager and TaskManagerExtension, which runs by delegatecall
///      in TaskManager's storage) inherit this one layout.
abstract contract TaskStorage is ITaskManagerErrors, ITaskManagerEvents {
    uint8 internal constant _RAW = 0x55;
    uint8 internal constant _DAG_PB = 0x70;
    uint256 internal constant _MAX_ROUNDS = 250;
    uint256 internal constant _MAX_CLIENTS = 256;
    uint256 internal constant _MAX_MINERS = 64;
    uint256 internal constant _MAX_COMMITTEE = 16;
    uint8 internal constant _SLASH_NO_VERDICT = 1;
    uint8 internal constant _SLASH_DISSENT = 2;
    uint8 internal constant _SLASH_REJECTED = 3; // posted a verdict that did not reach quorum
    uint8 internal constant _SLASH_SILENT = 4; // neither attested nor dissented from a failed verdict
    uint256 internal constant _OFFENSE_CAP = 255; // 8-bit counters; slashBps >= 40 reaches the stake first
    uint256 internal constant _DRAWN = uint256(1) << 255; // committee word: drawn flag
    uint256 internal constant _BAD_SIGNATURE = 1;
    uint256 internal constant _BAD_CODEC = 2;
    uint256 internal constant _BAD_SAMPLES = 3;

    bytes32 internal constant _UPDATE_TYPEHASH = keccak256(
        "Update(uint256 taskId,uint64 round,bytes32 digest,uint32 numSamples,uint8 codec)"
    );
    bytes32 internal constant _ATTESTATION_TYPEHASH =
        keccak256("Attestation(uint256 taskId,uint64 round,bytes32 verdictHash)");
    bytes32 internal constant _JOIN_TYPEHASH =
        keccak256("JoinTask(uint256 taskId,uint256 mortgage,uint256 nonce,uint256 deadline)");

    /// @dev The slot every submission reads.
    struct State {
        TaskStatus status;
        uint16 round; // current round; equals the number of finalized rounds
        uint40 submitDeadline;
        uint40 verdictDeadline;
        uint8 attempt; // committee position of the current leader
        uint16 clientCount;
        uint8 minerCount;
        uint8 committeeSize; // seats per round (the task's committeeSize, fixed at start)
        uint32 missedTotal; // sum over finalized rounds of (n - accepted): M11's sum punish / unit
        uint16 approvals; // bit k: committee position k approved the pending verdict
        uint16 dissents; // bit k: committee position k attested another hash
        uint16 pendingAccepted; // popcount of the pending verdict's accepted set
        uint8 pendingCodec;
    }

    struct Config {
        address requester;
        RewardPolicy policy;
        uint16 rounds;
        uint16 maxClients;
        uint8 committeeSize; // requested
        uint8 byzantineF;
        uint40 joinDeadline;
    }

    struct Terms {
        uint88 clientMortgage;
        uint88 minMinerStake;
        uint32 submitDuration;
        uint32 verdictDuration;
        uint16 minReputation;
    }

    struct Rewards {
        uint128 perRoundReward;
        uint128 rewardUnit;
    }

    struct Funds {
        uint128 pot; // wei the task still holds
        uint96 totalStake;
        uint16 unsettled; // members not yet settled
    }

    struct Member {
        MemberRole role;
        uint8 index;
        uint16 gammaAtJoin;
    }

    struct MinerEntry {
        address miner;
        uint96 stake;
    }

    /// @dev Protocol bounds fixed at deployment (see {ITaskManager-limits}).
    uint256 internal immutable _minJoinWindow;
    uint256 internal immutable _maxJoinWindow;
    uint256 internal immutable _minRoundWindow;
    uint256 internal immutable _maxRoundWindow;
    uint256 internal immutable _minStakeFloor;

    IParticipantRegistry internal immutable _registry;
    IModelRegistry internal immutable _models;
    uint256 internal immutable _gammaMax;
    uint256 internal immutable _threshold;
    uint256 internal immutable _slashBps;

    uint256 internal _taskCount;
    /// @dev Each participant's account word: internal balance plus up to two inline task
    ///      memberships (layout in {Accounts}); further memberships live in `_members`.
    mapping(address account => uint256 word) internal _accounts;
    // Slither analyses each deployed half alone; mappings marked `uninitialized-state` below are
    // written by the other half (TaskManagerExtension runs in this storage by DELEGATECALL).
    mapping(uint256 taskId => State) internal _states;
    // slither-disable-next-line uninitialized-state
    mapping(uint256 taskId => Config) internal _configs;
    // slither-disable-next-line uninitialized-state
    mapping(uint256 taskId => Terms) internal _terms;
    // slither-disable-next-line uninitialized-state
    mapping(uint256 taskId => Rewards) internal _rewards;
    mapping(uint256 taskId => Funds) internal _funds;
    // slither-disable-next-line uninitialized-state
    mapping(uint256 taskId => bytes32 category) internal _categories;
    mapping(uint256 taskId => mapping(address account => Member)) internal _members;
    // slither-disable-next-line uninitialized-state
    mapping(uint256 taskId => mapping(uint256 index => MinerEntry)) internal _miners;
    mapping(uint256 taskId => mapping(uint256 round => uint256 packed)) internal _committees;
    // slither-disable-next-line uninitialized-state
    mapping(uint256 taskId => bytes32 verdictHash) internal _verdictHashes;
    mapping(uint256 taskId => bytes32 digest) internal _pendingModels;
    mapping(uint256 taskId => mapping(uint256 word => uint256 bits)) internal _accepted;
    // slither-disable-next-line uninitialized-state
    mapping(uint256 taskId => mapping(uint256 word => uint256 weights)) internal _weights;
    // slither-disable-next-line uninitialized-state
    mapping(uint256 taskId => mapping(uint256 word => uint256 counts)) internal _offenses; // 8 bits per miner
    // slither-disable-next-line uninitialized-state
    mapping(uint256 taskId => uint256 stake) internal _minTotalStakes;
    // slither-disable-next-line uninitialized-state
    uint256 internal _burned; // slashed stake: never paid to anyone

    constructor(IParticipantRegistry registry_, IModelRegistry models_, uint256 slashBps_, Limits memory limits_) {
        if (
            address(registry_) == address(0) || address(models_) == address(0) || slashBps_ > 10_000
                || (slashBps_ != 0 && slashBps_ * _OFFENSE_CAP < 10_000) || limits_.minJoinWindow == 0
                || limits_.minJoinWindow > limits_.maxJoinWindow || limits_.minRoundWindow == 0
                || limits_.minRoundWindow > limits_.maxRoundWindow || limits_.minStakeFloor == 0
                || limits_.maxJoinWindow > type(uint32).max || limits_.maxRoundWindow > type(uint32).max
        ) {
            revert TaskManagerInvalidDeployment(address(registry_), address(models_), slashBps_);
        }
        _minJoinWindow = limits_.minJoinWindow;
        _maxJoinWindow = limits_.maxJoinWindow;
        _minRoundWindow = limits_.minRoundWindow;
        _maxRoundWindow = limits_.maxRoundWindow;
        _minStakeFloor = limits_.minStakeFloor;
        _registry = registry_;
        _models = models_;
        _gammaMax = registry_.gammaMax();
        _threshold = registry_.threshold();
        _slashBps = slashBps_;
    }

    function _checkCodec(uint8 codec) internal pure {
        if (codec != _RAW && codec != _DAG_PB) revert TaskManagerInvalidCodec(codec);
    }

    function _requireStatus(uint256 taskId, TaskStatus status, TaskStatus expected) internal pure {
        if (status != expected) {
            if (status == TaskStatus.None) revert TaskManagerUnknownTask(taskId);
            revert TaskManagerWrongStatus(taskId, status, expected);
        }
    }

    function _checkJoinOpen(uint256 taskId, TaskStatus status) internal view {
        _requireStatus(taskId, status, TaskStatus.Joining);
        uint40 deadline = _configs[taskId].joinDeadline;
        if (block.timestamp > deadline) revert TaskManagerJoinClosed(taskId, deadline);
    }

    function _credit(address account, uint256 amount) internal {
        uint256 word = _accounts[account];
        _accounts[account] = Accounts.withBalance(word, _added(account, Accounts.balance(word), amount));
    }

    function _debit(address account, uint256 amount) internal {
        uint256 word = _accounts[account];
        _accounts[account] = Accounts.withBalance(word, _taken(account, Accounts.balance(word), amount));
    }

    function _added(address account, uint256 balance, uint256 amount) internal pure returns (uint256 sum) {
        sum = balance + amount;
        if (sum > Accounts.BALANCE_MASK) revert TaskManagerBalanceOverflow(account, sum);
    }

    function _taken(address account, uint256 balance, uint256 amount) internal pure returns (uint256) {
        if (balance < amount) revert TaskManagerInsufficientBalance(account, balance, amount);
        // unchecked: balance >= amount was checked on the line above.
        unchecked {
            return balance - amount;
        }
    }

    /// @dev `account`'s membership in `taskId` (role None if it has none).
    function _memberOf(uint256 taskId, address account) internal view returns (Member memory m) {
        uint256 word = _accounts[account];
        uint256 k = Accounts.find(word, taskId);
        if (k != Accounts.NONE) {
            uint256 e = Accounts.entry(word, k);
            return Member({
                role: MemberRole(uint8(e >> 32)),
                index: uint8(e >> 40),
                gammaAtJoin: uint16(e >> 48)
            });
        }
        if (word & Accounts.OVERFLOW != 0) m = _members[taskId][account];
    }

    /// @dev Whether `account` is a client of `taskId`: the membership check of a direct
    ///      submission, one cold read of the account word for inline memberships.
    function _isClient(uint256 taskId, address account) internal view returns (bool) {
        uint256 word = _accounts[account];
        uint256 found; // 1 + the role of an inline membership in taskId, else 0
        // Same test as Accounts.find, unrolled for the hot path (see {Accounts} for the layout).
        assembly ("memory-safe") {
            let e0 := and(shr(104, word), 0xffffffffffffffff)
            let e1 := and(shr(168, word), 0xffffffffffffffff)
            let r0 := and(shr(32, e0), 0xff)
            let r1 := and(shr(32, e1), 0xff)
            if and(eq(and(e0, 0xffffffff), taskId), iszero(iszero(r0))) { found := add(r0, 1) }
            if and(eq(and(e1, 0xffffffff), taskId), iszero(iszero(r1))) { found := add(r1, 1) }
        }
        if (found != 0) return found == uint8(MemberRole.Client) + 1;
        return word & Accounts.OVERFLOW != 0 && _members[taskId][account].role == MemberRole.Client;
    }

    /// @dev Records a membership (the caller checked there is none) and debits `debit` from the
    ///      account, in one write of the account word when the membership fits inline.
    function _enroll(uint256 taskId, address account, Member memory m, uint256 debit) internal {
        uint256 word = _accounts[account];
        if (debit != 0) word = Accounts.withBalance(word, _taken(account, Accounts.balance(word), debit));
        uint256 k = taskId <= type(uint32).max ? Accounts.free(word) : Accounts.NONE;
        if (k != Accounts.NONE) {
            word = Accounts.withEntry(word, k, Accounts.pack(taskId, uint8(m.role), m.index, m.gammaAtJoin));
        } else {
            _members[taskId][account] = m;
            word |= Accounts.OVERFLOW;
        }
        _accounts[account] = word | Accounts.OPENED;
    }

    /// @dev Moves `account`'s membership of `taskId` to index `index`.
    function _setMemberIndex(uint256 taskId, address account, uint256 index) internal {
        uint256 word = _accounts[account];
        uint256 k = Accounts.find(word, taskId);
        if (k == Accounts.NONE) {
            _members[taskId][account].index = uint8(index);
            return;
        }
        uint256 e = (Accounts.entry(word, k) & ~(uint256(0xff) << 40)) | (index << 40);
        _accounts[account] = Accounts.withEntry(word, k, e);
    }

    /// @dev Ends a membership and credits `amount`, in one write of the account word.
    function _release(uint256 taskId, address account, uint256 amount) internal {
        uint256 word = _accounts[account];
        uint256 k = Accounts.find(word, taskId);
        if (k != Accounts.NONE) word = Accounts.withEntry(word, k, 0);
        else delete _members[taskId][account];
        _accounts[account] = Accounts.withBalance(word, _added(account, Accounts.balance(word), amount));
    }

    function _limits() internal view returns (Limits memory) {
        return Limits({
            minJoinWindow: _minJoinWindow,
            maxJoinWindow: _maxJoinWindow,
            minRoundWindow: _minRoundWindow,
            maxRoundWindow: _maxRoundWindow,
            minStakeFloor: _minStakeFloor
        });
    }

    /// @dev Offenses of miner `index` (8-bit counter).
    function _offenseCount(uint256 taskId, uint256 index) internal view returns (uint256) {
        return (_offenses[taskId][index >> 5] >> ((index & 31) * 8)) & 0xff;
    }

    /// @dev Voids `client`'s join permits: bumps the nonce kept in its account word.
    function _bumpJoinNonce(address client) internal {
        uint256 word = _accounts[client];
        uint256 nonce = Accounts.joinNonce(word) + 1;
        _accounts[client] = Accounts.withJoinNonce(word, nonce) | Accounts.OPENED;
        emit JoinPermitsRevoked(client, nonce);
    }

    function _quorum(uint256 size) internal pure returns (uint256) {
        return (2 * size + 2) / 3;
    }

    /// @dev Reads the n-bit accepted set of `round` from the stream.
    function _readAccepted(uint256 taskId, uint256 round, uint256 n) internal view returns (uint256 bits) {
        uint256 offset = round * n;
        uint256 word = offset >> 8;
        uint256 shift = offset & 255;
        bits = _accepted[taskId][word] >> shift;
        if (shift + n > 256) bits |= _accepted[taskId][word + 1] << (256 - shift);
        bits &= Bitmaps.lowMask(n);
    }

    /// @dev Overwrites the n-bit accepted set of `round` in the stream.
    function _writeAccepted(uint256 taskId, uint256 round, uint256 n, uint256 bits) internal {
        uint256 offset = round * n;
        uint256 word = offset >> 8;
        uint256 shift = offset & 255;
        uint256 mask = Bitmaps.lowMask(n);
        uint256 current = _accepted[taskId][word];
        uint256 updated = (current & ~(mask << shift)) | (bits << shift);
        if (updated != current) _accepted[taskId][word] = updated;
        if (shift + n > 256) {
            uint256 spill = shift + n - 256;
            uint256 next = _accepted[taskId][word + 1];
            _accepted[taskId][word + 1] = (next & ~Bitmaps.lowMask(spill)) | (bits >> (256 - shift));
        }
    }

    /// @dev Weight of client `index` in `round` (16 bits at position round*n + index).
    function _readWeight(uint256 taskId, uint256 round, uint256 n, uint256 index)
        internal
        view
        returns (uint256)
    {
        uint256 pos = round * n + index;
        return (_weights[taskId][pos >> 4] >> ((pos & 15) * 16)) & 0xffff;
    }

    function _verdictHash(uint256 taskId, uint64 round, Verdict calldata verdict)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(
            abi.encode(
                taskId,
                round,
                verdict.submitted,
                verdict.accepted,
                verdict.globalModel,
                verdict.codec,
                keccak256(abi.encodePacked(verdict.weights))
            )
        );
    }
}
