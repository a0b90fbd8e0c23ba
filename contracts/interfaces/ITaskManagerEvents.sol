// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ITaskTypes} from "./ITaskTypes.sol";

/// @title ITaskManagerEvents
/// @notice Every state change of a task emits one of these; together they rebuild a task
///         without reading storage.
interface ITaskManagerEvents is ITaskTypes {
    /// @notice A task was created with `escrow` wei of reward deposited.
    event TaskCreated(
        uint256 indexed taskId,
        address indexed requester,
        bytes32 indexed category,
        TaskSpec spec,
        uint256 escrow
    );
    /// @notice `client` joined as client number `index` (its bit in round bitmaps), with
    ///         reputation `reputation` in the requester's scope, locking the task's client
    ///         mortgage; `samples` is what its profiles in the category declare, fixed for this
    ///         task (the committee weighs its updates by at most this).
    event ClientJoined(
        uint256 indexed taskId, address indexed client, uint8 index, uint16 reputation, uint32 samples
    );
    /// @notice `miner` joined as miner number `index` with `stake`.
    event MinerJoined(uint256 indexed taskId, address indexed miner, uint8 index, uint256 stake);
    /// @notice Joining closed and round 0 opens.
    event TaskStarted(uint256 indexed taskId, uint16 clientCount, uint16 minerCount, uint16 committeeSize);
    /// @notice Round `round` opened in block `seedBlock`: its committee is drawn from that
    ///         block's hash, which no transaction of the block can read ({CommitteeDrawn}).
    event RoundOpened(
        uint256 indexed taskId, uint64 indexed round, uint64 seedBlock, uint64 submitDeadline, uint64 verdictDeadline
    );
    /// @notice Emitted when a round's committee is drawn from the hash of its seed block.
    event CommitteeDrawn(uint256 indexed taskId, uint64 indexed round, bytes32 seed, address[] committee);
    /// @notice Emitted when nobody drew a round's committee within 256 blocks of its seed block
    ///         and the round takes this block as its new seed block.
    event SeedRenewed(uint256 indexed taskId, uint64 indexed round, uint64 seedBlock);
    /// @notice Emitted when a member leaves a task before it starts (or a miner is outbid for
    ///         its seat) and gets `refund` back.
    event MemberLeft(uint256 indexed taskId, address indexed account, MemberRole role, uint256 refund);
    /// @notice Emitted when a client bumps its join nonce, voiding its unused permits.
    event JoinPermitsRevoked(address indexed client, uint256 nonce);
    /// @notice Emitted when a miner's slashed stake is burned at settlement.
    event StakeBurned(uint256 indexed taskId, address indexed miner, uint256 amount);
    /// @notice `client` submitted an update (directly or relayed with its EIP-712 signature).
    ///         The first submission of a client in a round counts; later ones are ignored.
    event UpdateSubmitted(
        uint256 indexed taskId,
        uint64 indexed round,
        address indexed client,
        bytes32 digest,
        uint32 numSamples,
        uint8 codec
    );
    /// @notice The round's leader posted `verdict`, hashed to `verdictHash`.
    event VerdictPosted(
        uint256 indexed taskId,
        uint64 indexed round,
        address indexed leader,
        uint8 attempt,
        bytes32 verdictHash,
        Verdict verdict
    );
    /// @notice A committee member attested `verdictHash` (agreed: it equals the posted one).
    event VerdictAttested(
        uint256 indexed taskId, uint64 indexed round, address indexed member, bytes32 verdictHash, bool agreed
    );
    /// @notice The round reached quorum: its accepted set and global model are final.
    event RoundFinalized(
        uint256 indexed taskId,
        uint64 indexed round,
        bytes32 verdictHash,
        bytes32 globalModel,
        uint8 codec,
        uint16 acceptedCount
    );
    /// @notice The leader at `attempt - 1` was replaced by `newLeader` after the verdict deadline.
    event LeaderReplaced(
        uint256 indexed taskId,
        uint64 indexed round,
        address indexed formerLeader,
        address newLeader,
        uint8 attempt,
        bool formerPosted,
        uint64 verdictDeadline
    );
    /// @notice `miner` lost `amount` of its stake (reason 1: leader failed to post in time;
    ///         2: attested a different verdict than the finalized one; 3: leader whose posted
    ///         verdict failed to reach quorum; 4: seat that neither attested nor dissented from a
    ///         failed verdict). Burned at settlement.
    event StakeSlashed(
        uint256 indexed taskId, address indexed miner, uint64 indexed round, uint8 reason, uint256 amount
    );
    /// @notice The leader earned its contribution-policy share (eq. 10) for the round.
    event LeaderRewarded(uint256 indexed taskId, uint64 indexed round, address indexed leader, uint256 amount);
    /// @notice The last round finalized; `finalModel` is the task's result.
    event TaskFinished(uint256 indexed taskId, bytes32 finalModel, uint8 codec);
    /// @notice The task was cancelled in `round` (finalized rounds still pay).
    event TaskCancelled(uint256 indexed taskId, address indexed caller, uint64 round);
    /// @notice The requester recorded the DP-perturbed final model (M4c).
    event PerturbedModelPublished(uint256 indexed taskId, bytes32 digest, uint8 codec);
    /// @notice A client's task outcome was credited to its internal balance.
    event ClientSettled(
        uint256 indexed taskId,
        address indexed client,
        uint256 reward,
        uint256 penalty,
        uint256 penaltyShare,
        uint256 payout,
        uint16 reputation
    );
    /// @notice A miner's stake (less slashes) was credited to its internal balance.
    event MinerSettled(uint256 indexed taskId, address indexed miner, uint256 slashed, uint256 payout);
    /// @notice What nobody earned went back to the requester's internal balance.
    event RequesterRefunded(uint256 indexed taskId, address indexed requester, uint256 amount);
    /// @notice `account` deposited into its internal balance.
    event Deposited(address indexed account, uint256 amount);
    /// @notice `account` withdrew from its internal balance (the pull payment).
    event Withdrawn(address indexed account, uint256 amount);
}
