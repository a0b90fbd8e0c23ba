// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ITaskTypes} from "./ITaskTypes.sol";

/// @title ITaskManagerErrors
/// @notice Every custom error the TaskManager reverts with; each names the task and the values
///         that made the call fail.
interface ITaskManagerErrors is ITaskTypes {
    // --- creation ---
    /// @notice rounds must be in 1..250.
    error TaskManagerInvalidRounds(uint256 rounds);
    /// @notice maxClients must be in 1..256.
    error TaskManagerInvalidMaxClients(uint256 maxClients);
    /// @notice committeeSize must be in 1..16.
    error TaskManagerInvalidCommitteeSize(uint256 committeeSize);
    /// @notice byzantineF must be below maxClients.
    error TaskManagerInvalidByzantineBound(uint256 byzantineF, uint256 maxClients);
    /// @notice Both durations must lie within the deployment's round-window bounds (limits()).
    error TaskManagerInvalidDurations(uint256 submitDuration, uint256 verdictDuration);
    /// @notice The join deadline must lie between now + the deployment's least and most join window.
    error TaskManagerInvalidJoinDeadline(uint256 joinDeadline, uint256 nowTimestamp);
    /// @notice The category must be non-zero.
    error TaskManagerZeroCategory();
    /// @notice The client mortgage must be positive and divisible by the number of rounds (M11
    ///         penalties are whole multiples of mortgage / rounds).
    error TaskManagerInvalidMortgage(uint256 clientMortgage, uint256 rounds);
    /// @notice The task's minimum miner stake is below the deployment's stake floor.
    error TaskManagerInvalidMinerStake(uint256 minMinerStake);
    /// @notice msg.value must equal rounds x perRoundReward.
    error TaskManagerEscrowMismatch(uint256 required, uint256 sent);
    /// @notice rewardUnit x maxReputation x maxClients exceeds perRoundReward, so the escrow could
    ///         not cover a round.
    error TaskManagerRewardUnitTooHigh(uint256 rewardUnit, uint256 maxRoundPayout, uint256 perRoundReward);
    /// @notice A model codec other than 0x55 (raw) or 0x70 (dag-pb).
    error TaskManagerInvalidCodec(uint8 codec);

    // --- life cycle ---
    /// @notice No task with this id.
    error TaskManagerUnknownTask(uint256 taskId);
    /// @notice The task is in `status`, not in `expected`.
    error TaskManagerWrongStatus(uint256 taskId, TaskStatus status, TaskStatus expected);
    /// @notice Joining closed at `joinDeadline`.
    error TaskManagerJoinClosed(uint256 taskId, uint64 joinDeadline);
    /// @notice The task already has maxClients clients (or 64 miners).
    error TaskManagerTaskFull(uint256 taskId, uint256 capacity);
    /// @notice `account` is already a member of the task.
    error TaskManagerAlreadyJoined(uint256 taskId, address account);
    /// @notice `account` is not registered with `role` (1 client, 2 miner) in the registry.
    error TaskManagerNotRegistered(address account, uint8 role);
    /// @notice The client has no data profile in the task's category.
    error TaskManagerCategoryMissing(uint256 taskId, address client, bytes32 category);
    /// @notice The client's reputation is below the task's minimum.
    error TaskManagerReputationTooLow(uint256 taskId, address client, uint256 reputation, uint256 minimum);
    /// @notice Client mortgages are uniform: exactly the task's mortgage (or 0 to pay from the
    ///         internal balance).
    error TaskManagerWrongMortgage(uint256 taskId, uint256 required, uint256 sent);
    /// @notice The miner stake is below the task's minimum.
    error TaskManagerStakeTooLow(uint256 taskId, uint256 stake, uint256 minimum);
    /// @notice A stake does not fit the 88 bits a task records.
    error TaskManagerStakeTooHigh(uint256 taskId, uint256 stake, uint256 maximum);
    /// @notice The miners' stakes do not reach the task's minTotalStake yet.
    error TaskManagerStakeShortfall(uint256 taskId, uint256 totalStake, uint256 required);
    /// @notice `account` is not the last member of the leaver's role (the index to move).
    error TaskManagerNotLastMember(uint256 taskId, address account);
    /// @notice A join permit's deadline passed.
    error TaskManagerPermitExpired(uint256 taskId, address client, uint256 deadline);
    /// @notice msg.value must be 0 (stake from the internal balance) or exactly the stake.
    error TaskManagerWrongStakePayment(uint256 taskId, uint256 stake, uint256 sent);
    /// @notice The internal balance does not cover `required`.
    error TaskManagerInsufficientBalance(address account, uint256 balance, uint256 required);
    /// @notice The task cannot start: it needs at least one client and committeeSize distinct miners.
    error TaskManagerNotStartable(uint256 taskId, uint256 clientCount, uint256 minerCount);
    /// @notice Before the join deadline only the requester may start the task, and only when it
    ///         is full (every client seat and all 64 miner seats taken).
    error TaskManagerJoinStillOpen(uint256 taskId, uint64 joinDeadline);
    /// @notice The task is neither stalled nor cancellable by the caller now.
    error TaskManagerNotCancellable(uint256 taskId, TaskStatus status);
    /// @notice Only the task's requester may do this.
    error TaskManagerNotRequester(uint256 taskId, address account);

    // --- submissions ---
    /// @notice The call names `round` but the task is in round `currentRound`.
    error TaskManagerWrongRound(uint256 taskId, uint64 round, uint64 currentRound);
    /// @notice Submissions for the round closed at `deadline`.
    error TaskManagerRoundClosed(uint256 taskId, uint64 round, uint64 deadline);
    /// @notice numSamples must be positive.
    error TaskManagerZeroSamples(uint256 taskId, address client);
    /// @notice `account` is not a client of the task.
    error TaskManagerNotClient(uint256 taskId, address account);
    /// @notice Signature number `index` of a batch does not recover to a signer.
    error TaskManagerInvalidSignature(uint256 taskId, uint256 index);
    /// @notice A batch must hold at least one entry.
    error TaskManagerEmptyBatch(uint256 taskId);

    // --- verdicts ---
    /// @notice `account` is not the round's current leader `leader`.
    error TaskManagerNotLeader(uint256 taskId, uint64 round, address account, address leader);
    /// @notice Submissions are still open until `deadline` and not every client has submitted.
    error TaskManagerSubmissionsOpen(uint256 taskId, uint64 round, uint64 deadline);
    /// @notice The current leader already posted its verdict (attempt `attempt`).
    error TaskManagerVerdictAlreadyPosted(uint256 taskId, uint64 round, uint256 attempt);
    /// @notice accepted not a subset of submitted, or bits beyond the client count are set.
    error TaskManagerInvalidBitmap(uint256 taskId, uint64 round, uint256 submitted, uint256 accepted);
    /// @notice Weights have the wrong length, exceed 10,000 bps in total or pay a client that
    ///         was not accepted.
    error TaskManagerInvalidWeights(uint256 taskId, uint64 round, uint256 length, uint256 totalBps);
    /// @notice No verdict has been posted in the current attempt.
    error TaskManagerNoVerdict(uint256 taskId, uint64 round);
    /// @notice `account` is not on the round's committee.
    error TaskManagerNotCommitteeMember(uint256 taskId, uint64 round, address account);
    /// @notice `account` already attested (or is the leader that posted) in this attempt.
    error TaskManagerAlreadyAttested(uint256 taskId, uint64 round, address account);
    /// @notice The verdict window is still open until `verdictDeadline`.
    error TaskManagerVerdictWindowOpen(uint256 taskId, uint64 round, uint64 verdictDeadline);
    /// @notice Every committee member has led once; only cancellation remains.
    error TaskManagerNoLeaderLeft(uint256 taskId, uint64 round);
    /// @notice The round has not been opened yet.
    error TaskManagerRoundNotOpened(uint256 taskId, uint64 round);
    /// @notice The round's seed block is this block or later: its hash is not known yet.
    error TaskManagerSeedNotReady(uint256 taskId, uint64 round, uint256 seedBlock);
    /// @notice The round's seed block is more than 256 blocks old; {drawCommittee} renews it.
    error TaskManagerSeedExpired(uint256 taskId, uint64 round, uint256 seedBlock);
    /// @notice The round's committee is already drawn.
    error TaskManagerCommitteeAlreadyDrawn(uint256 taskId, uint64 round);

    // --- settlement and the ledger ---
    /// @notice `account` is not a member of the task, or was settled already (settling deletes
    ///         the membership).
    error TaskManagerNotMember(uint256 taskId, address account);
    /// @notice A balance would exceed 2^96 - 1 wei.
    error TaskManagerBalanceOverflow(address account, uint256 balance);
    /// @notice Amounts must be positive.
    error TaskManagerZeroAmount();
    /// @notice Sending `amount` wei to `account` failed.
    error TaskManagerTransferFailed(address account, uint256 amount);
    /// @notice The extension was called directly instead of through the TaskManager.
    error TaskManagerExtensionDirectCall();
    /// @notice Constructor arguments out of range (or an extension built with other arguments).
    error TaskManagerInvalidDeployment(address registry, address models, uint256 slashBps);
}
