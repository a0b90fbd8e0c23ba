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

    /// @notice Joins many clients at once from their EIP-712 JoinTask(taskId, mortgage, nonce,
    ///         deadline) permits (nonce: the client's {joinNonce}); each mortgage comes from the
    ///         signer's internal balance. Anyone may relay.
    /// @dev Reverts on an expired permit, a signature not from its `client`, or an ineligible
    ///      signer. Emits {ClientJoined} per client.
    function joinClientsBySig(uint256 taskId, JoinSignature[] calldata permits) external;

    /// @notice Voids every join permit the caller signed so far (bumps its join nonce).
    /// @dev Emits {JoinPermitsRevoked}.
    function revokeJoinPermits() external;

    /// @notice Leaves a task that has not started, getting the mortgage or stake back. Unless
    ///         the caller joined last in its role, `lastMember` must be the member of its role
    ///         that did (it takes the caller's index). A client's join nonce is bumped.
    /// @dev Emits {MemberLeft}.
    function leaveTask(uint256 taskId, address lastMember) external;

    /// @notice Joins as a miner with `stake` (>= the task minimum, < 2^88): from msg.value when
    ///         it is sent (must equal `stake`), else from the internal balance. At most 64
    ///         miners; once they are 64, a higher stake takes the lowest one's place (that miner
    ///         is refunded in full).
    /// @dev Emits a {MinerJoined} event (and {MemberLeft} for an outbid miner).
    function joinAsMiner(uint256 taskId, uint256 stake) external payable;

    /// @notice Closes joining and opens round 0. Anyone after the join deadline; the requester
    ///         earlier only when the task is full (maxClients clients and 64 miners). Needs at
    ///         least one client, committeeSize distinct miners and minTotalStake staked.
    /// @dev Emits {TaskStarted} and {RoundOpened}.
    function startTask(uint256 taskId) external;

    /// @notice Cancels a task: by the requester while it is still joining; by anyone when it
    ///         stalled (join deadline passed and the task cannot start; or the last leader's
    ///         attempt failed with no leader left). In the latter case the last leader and the
    ///         silent seats are slashed as {replaceLeader} slashes them, and settlement applies
    ///         M11 to the rounds played.
    /// @dev Emits a {TaskCancelled} event ({StakeSlashed} events, and {RequesterRefunded} if
    ///      nobody joined).
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

    /// @notice Once the current attempt is over (verdict deadline passed, or the posted verdict
    ///         can no longer reach quorum for the dissents), anyone hands leadership to the next
    ///         seat. The former leader is slashed (whether it posted or not), and so is every
    ///         seat that neither attested nor dissented from its posted verdict.
    /// @dev Emits {LeaderReplaced} and {StakeSlashed} events.
    function replaceLeader(uint256 taskId) external;

    /// @notice Draws the current round's committee from its seed block's hash and stores it;
    ///         if that hash is out of reach (more than 256 blocks), this block becomes the new
    ///         seed block instead and the verdict window restarts. Verdicts draw it too.
    /// @dev Emits {CommitteeDrawn} or {SeedRenewed}.
    function drawCommittee(uint256 taskId) external;

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

    /// @notice Round `round`'s committee seats in drawn order (seat 0 leads the first attempt; a
    ///         miner may hold several seats). Before it is stored, it is computed from the seed
    ///         block's hash (reverts {TaskManagerSeedNotReady} in that block itself).
    function committee(uint256 taskId, uint64 round) external view returns (address[] memory);

    /// @notice The block whose hash seeds `round`'s committee.
    function seedBlockOf(uint256 taskId, uint64 round) external view returns (uint256);

    /// @notice The client's current join nonce (signed into its join permits).
    function joinNonce(address client) external view returns (uint256);

    /// @notice Wei of slashed stake burned so far (held by this contract, owed to nobody).
    function burnedStake() external view returns (uint256);

    /// @notice The protocol bounds fixed at deployment.
    function limits() external view returns (Limits memory);

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

    /// @notice EIP-712 digest of JoinTask(taskId, mortgage, nonce, deadline).
    function hashJoin(uint256 taskId, uint256 mortgage, uint256 nonce, uint256 deadline)
        external
        view
        returns (bytes32);

    /// @notice The EIP-712 domain separator (name "FedChain TaskManager", version "1").
    function domainSeparator() external view returns (bytes32);

    /// @notice The ParticipantRegistry this manager writes reputation and credits to.
    function registry() external view returns (address);

    /// @notice The ModelRegistry this manager records model digests in.
    function models() external view returns (address);

    /// @notice Share of a miner's stake slashed per offense, in basis points.
    function slashBps() external view returns (uint256);
}
