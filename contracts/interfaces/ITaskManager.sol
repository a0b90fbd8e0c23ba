// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ITaskManagerErrors} from "./ITaskManagerErrors.sol";
import {ITaskManagerEvents} from "./ITaskManagerEvents.sol";

/// @title ITaskManager
/// @notice One federated-learning task from escrow to payout: M1 escrow, joins with mortgages
///         and stakes, rounds with deadlines, direct and EIP-712-relayed submissions (M6),
///         stake-weighted committees (M8), leader verdicts with a 2/3 quorum, reputation (M9),
///         rewards (M10), mortgage penalties (M11), cancellation, and pull payments.
/// @dev Money sits in an internal ledger: `deposit` once, joins lock from it, settlement credits
///      it, `withdraw` is the pull payment. Settlement is lazy and per participant: anyone may
///      settle anyone (`settle`, `settleMany`) once the task is finished or cancelled.
interface ITaskManager is ITaskManagerErrors, ITaskManagerEvents {
    // --- ledger ---
    /// @notice Adds msg.value to the caller's internal balance.
    /// @dev Emits a {Deposited} event.
    function deposit() external payable;

    /// @notice Sends `amount` of the caller's internal balance to the caller.
    /// @dev Checks-effects-interactions with a reentrancy guard. Emits a {Withdrawn} event.
    function withdraw(uint256 amount) external;

    // --- task set-up ---
    /// @notice Creates a task; msg.value must equal spec.rounds x spec.perRoundReward.
    /// @dev Emits a {TaskCreated} event.
    function createTask(TaskSpec calldata spec) external payable returns (uint256 taskId);

    /// @notice Joins as a client, locking exactly the task's mortgage: from msg.value when it is
    ///         sent, else from the internal balance.
    /// @dev Emits a {ClientJoined} event.
    function joinAsClient(uint256 taskId) external payable;

    /// @notice Joins many clients at once from their EIP-712 JoinTask(taskId, mortgage) permits;
    ///         each mortgage comes from the signer's internal balance. Anyone may relay.
    /// @dev Reverts on any invalid signature or ineligible signer. Emits {ClientJoined} per client.
    function joinClientsBySig(uint256 taskId, JoinSignature[] calldata permits) external;

    /// @notice Joins as a miner with `stake` (>= the task minimum): from msg.value when it is
    ///         sent (must equal `stake`), else from the internal balance. At most 64 miners.
    /// @dev Emits a {MinerJoined} event.
    function joinAsMiner(uint256 taskId, uint256 stake) external payable;

    /// @notice Closes joining and opens round 0. Anyone after the join deadline; the requester
    ///         at any time. Needs at least one client and one miner.
    /// @dev Emits {TaskStarted} and {RoundOpened}.
    function startTask(uint256 taskId) external;

    /// @notice Cancels a task: by the requester while it is still joining; by anyone when it
    ///         stalled (join deadline passed without a client or a miner; or the verdict deadline
    ///         passed with no leader left to replace the current one). In the latter case a last
    ///         leader that never posted is slashed, as {replaceLeader} slashes a replaced one.
    /// @dev Emits a {TaskCancelled} event (a {StakeSlashed} event for a silent last leader, and
    ///      {RequesterRefunded} if nobody joined).
    function cancelTask(uint256 taskId) external;

    /// @notice The requester records the DP-perturbed final model it published (M4c), once
    ///         (ModelRegistry reverts `ModelRegistryPerturbedModelExists` on a second call and
    ///         `ModelRegistryZeroDigest` for a zero digest), so the model the M3 request cache
    ///         serves never changes after it was first served.
    /// @dev Emits a {PerturbedModelPublished} event.
    function publishPerturbedModel(uint256 taskId, bytes32 digest, uint8 codec) external;

    // --- rounds ---
    /// @notice A client submits its update for `round` (digest of the blob's CID, sample count,
    ///         CID codec). No storage is written: the event is the record, and the first
    ///         submission of a client in a round is the one that counts.
    /// @dev Emits an {UpdateSubmitted} event.
    function submitUpdate(uint256 taskId, uint64 round, bytes32 digest, uint32 numSamples, uint8 codec)
        external;

    /// @notice Relays many clients' EIP-712-signed updates for `round` in one transaction.
    /// @dev Each signature must recover (else the whole batch reverts); membership is NOT checked
    ///      here (it would cost a cold storage read per client): the committee ignores updates
    ///      whose signer is not a client of the task. Emits {UpdateSubmitted} per update.
    function submitUpdatesBySig(uint256 taskId, uint64 round, SignedUpdate[] calldata updates) external;

    /// @notice The round's current leader posts its verdict once submissions are closed (after
    ///         the submit deadline, or early when `submitted` holds every client), together with
    ///         the other members' EIP-712 Attestation(taskId, round, verdictHash) signatures it
    ///         collected (possibly none). The post counts as the leader's own approval; the round
    ///         finalizes in this transaction if the approvals reach the quorum.
    /// @dev Reverts on a signature that is not from a distinct committee member. Emits
    ///      {VerdictPosted}, {VerdictAttested} per relayed signature, and {RoundFinalized} (with
    ///      {RoundOpened} or {TaskFinished}) at quorum.
    function postVerdict(
        uint256 taskId,
        uint64 round,
        Verdict calldata verdict,
        AttestationSignature[] calldata attestations
    ) external;

    /// @notice A committee member attests the verdict hash it computed itself. Equal to the
    ///         posted hash: an approval; different: a dissent (slashed if the posted verdict is
    ///         finalized). The approval that reaches ceil(2*size/3) finalizes the round.
    /// @dev Emits {VerdictAttested} (and {RoundFinalized}, {RoundOpened} or {TaskFinished}).
    function attestVerdict(uint256 taskId, uint64 round, bytes32 verdictHash) external;

    /// @notice After the verdict deadline without finalization, anyone hands leadership to the
    ///         next committee member; a leader that had not posted is slashed.
    /// @dev Emits {LeaderReplaced} (and {StakeSlashed}).
    function replaceLeader(uint256 taskId) external;

    // --- settlement ---
    /// @notice Settles one participant of a finished or cancelled task into its internal balance.
    /// @dev Emits {ClientSettled} or {MinerSettled}; the last settlement emits {RequesterRefunded}.
    function settle(uint256 taskId, address participant) external;

    /// @notice Settles many participants in one transaction.
    function settleMany(uint256 taskId, address[] calldata participants) external;

    // --- views ---
    /// @notice The caller-independent state and terms of a task.
    function taskInfo(uint256 taskId) external view returns (TaskInfo memory);

    /// @notice `account`'s membership in a task.
    function memberOf(uint256 taskId, address account) external view returns (MemberInfo memory);

    /// @notice Miner number `index` of a task and its stake.
    function minerAt(uint256 taskId, uint256 index) external view returns (address miner, uint256 stake);

    /// @notice Round `round`'s committee in drawn order (position 0 led the first attempt).
    function committee(uint256 taskId, uint64 round) external view returns (address[] memory);

    /// @notice The current round's current leader.
    function currentLeader(uint256 taskId) external view returns (address);

    /// @notice Round `round`'s accepted bitmap (final once the round is finalized).
    function acceptedBitmap(uint256 taskId, uint64 round) external view returns (uint256);

    /// @notice Client `index`'s reward weight in round `round` (basis points).
    function clientWeight(uint256 taskId, uint64 round, uint256 index) external view returns (uint16);

    /// @notice Hash of the verdict posted in the current attempt (zero if none).
    function pendingVerdictHash(uint256 taskId) external view returns (bytes32);

    /// @notice Approvals needed to finalize a round: ceil(2*committeeSize/3).
    function quorum(uint256 taskId) external view returns (uint256);

    /// @notice Offenses recorded against miner number `index`.
    function offensesOf(uint256 taskId, uint256 index) external view returns (uint256);

    /// @notice What settling `client` would pay and record now (the task must be over).
    function previewClientSettlement(uint256 taskId, address client)
        external
        view
        returns (ClientOutcome memory);

    /// @notice What settling `miner` would pay now: its stake less slashes.
    function previewMinerSettlement(uint256 taskId, address miner)
        external
        view
        returns (uint256 slashed, uint256 payout);

    /// @notice `account`'s internal balance: what it may withdraw.
    function balanceOf(address account) external view returns (uint256);

    /// @notice Wei a task still holds (escrow, mortgages and stakes not yet settled).
    function taskPot(uint256 taskId) external view returns (uint256);

    /// @notice Number of tasks created (ids run from 1).
    function taskCount() external view returns (uint256);

    /// @notice The hash every committee member attests: keccak256(abi.encode(taskId, round,
    ///         submitted, accepted, globalModel, codec, keccak256(abi.encodePacked(weights)))).
    function verdictHashOf(uint256 taskId, uint64 round, Verdict calldata verdict)
        external
        pure
        returns (bytes32);

    /// @notice EIP-712 digest of Update(taskId, round, digest, numSamples, codec).
    function hashUpdate(uint256 taskId, uint64 round, bytes32 digest, uint32 numSamples, uint8 codec)
        external
        view
        returns (bytes32);

    /// @notice EIP-712 digest of Attestation(taskId, round, verdictHash).
    function hashAttestation(uint256 taskId, uint64 round, bytes32 verdictHash)
        external
        view
        returns (bytes32);

    /// @notice EIP-712 digest of JoinTask(taskId, mortgage).
    function hashJoin(uint256 taskId, uint256 mortgage) external view returns (bytes32);

    /// @notice The EIP-712 domain separator (name "FedChain TaskManager", version "1").
    function domainSeparator() external view returns (bytes32);

    /// @notice The ParticipantRegistry this manager writes reputation and credits to.
    function registry() external view returns (address);

    /// @notice The ModelRegistry this manager records model digests in.
    function models() external view returns (address);

    /// @notice Share of a miner's stake slashed per offense, in basis points.
    function slashBps() external view returns (uint256);
}
