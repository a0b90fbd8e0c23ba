// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title ITaskTypes
/// @notice Enums and structs of the FedChain task protocol (shared by the TaskManager modules).
interface ITaskTypes {
    /// @notice Life cycle of a task. `None` marks an unknown task id.
    enum TaskStatus {
        None,
        Joining,
        Running,
        Finished,
        Cancelled
    }

    /// @notice M10 reward policy of a task.
    /// @dev Reputation: an accepted update earns gamma x rewardUnit (gamma before the round's update).
    ///      Contribution: the leader takes perRoundReward / (n + 1) (eq. 10, N = n clients + the
    ///      leader) and the clients split the rest by the leader's basis-point weights.
    ///      DataAmount: the clients split perRoundReward by the leader's basis-point weights
    ///      (proportional to accepted samples). Fixed: the "no incentive" baseline, an accepted
    ///      update earns threshold h x rewardUnit whatever the reputation.
    enum RewardPolicy {
        Reputation,
        Contribution,
        DataAmount,
        Fixed
    }

    /// @notice What a participant is in a task.
    enum MemberRole {
        None,
        Client,
        Miner
    }

    /// @notice Everything the requester fixes when creating a task (M1).
    /// @param category data category clients must hold a profile in.
    /// @param initialModel sha2-256 digest of the initial model's CIDv1 multihash.
    /// @param initialCodec CID codec of the initial model (0x55 raw, 0x70 dag-pb).
    /// @param modelSpecHash hash of the model specification (architecture, shapes).
    /// @param requestKey M3 request key answered by this task's final model (zero for none); the
    ///        registry records it bound to the requester, keccak256(abi.encode(requester, key)).
    /// @param rounds number of global rounds v (1..250).
    /// @param joinDeadline unix time after which nobody joins; anyone may then start the task.
    /// @param submitDuration seconds clients have to submit, from each round's opening.
    /// @param verdictDuration seconds the leader has to post and reach quorum after submissions close.
    /// @param perRoundReward wei paid out at most per round; msg.value = rounds x perRoundReward.
    /// @param rewardUnit wei per reputation point (Reputation, Fixed policies).
    /// @param minReputation minimum client reputation to join.
    /// @param clientMortgage the mortgage every client locks (uniform; divisible by rounds).
    /// @param minMinerStake minimum miner stake (at least the deployment's stake floor).
    /// @param minTotalStake the task starts only once its miners' stakes sum to at least this.
    /// @param maxClients at most this many clients (<= 256, one bit each in a round bitmap).
    /// @param committeeSize committee seats per round (1..16), leader included; the task starts
    ///        only with at least this many distinct miners.
    /// @param byzantineF Byzantine bound f the committee's Multi-KRUM uses (< maxClients).
    /// @param policy reward policy.
    struct TaskSpec {
        bytes32 category;
        bytes32 initialModel;
        uint8 initialCodec;
        bytes32 modelSpecHash;
        bytes32 requestKey;
        uint16 rounds;
        uint64 joinDeadline;
        uint32 submitDuration;
        uint32 verdictDuration;
        uint128 perRoundReward;
        uint128 rewardUnit;
        uint16 minReputation;
        uint88 clientMortgage;
        uint88 minMinerStake;
        uint96 minTotalStake;
        uint16 maxClients;
        uint8 committeeSize;
        uint8 byzantineF;
        RewardPolicy policy;
    }

    /// @notice A leader's verdict for one round.
    /// @param submitted bit i: client i submitted (its first valid submission counts).
    /// @param accepted bit i: client i's update was accepted; must be a subset of `submitted`.
    /// @param globalModel digest of the aggregated global model.
    /// @param codec its CID codec.
    /// @param weights per-client reward weights in basis points (Contribution and DataAmount
    ///        policies: one per client, sum <= 10,000, zero for clients not accepted; empty otherwise).
    struct Verdict {
        uint256 submitted;
        uint256 accepted;
        bytes32 globalModel;
        uint8 codec;
        uint16[] weights;
    }

    /// @notice One client's EIP-712-signed update, relayed by anyone. The signature is in the
    ///         compact EIP-2098 form: `vs` = (v - 27) << 255 | s.
    struct SignedUpdate {
        bytes32 digest;
        uint32 numSamples;
        uint8 codec;
        bytes32 r;
        bytes32 vs;
    }

    /// @notice A committee member's EIP-712 signature of Attestation(taskId, round,
    ///         verdictHash), relayed by the leader with its verdict (compact EIP-2098 form).
    struct AttestationSignature {
        bytes32 r;
        bytes32 vs;
    }

    /// @notice One client's EIP-712 join permit (JoinTask(taskId, mortgage, nonce, deadline)),
    ///         where nonce is the client's current {ITaskManager-joinNonce}: revoking (or
    ///         leaving a task) bumps it and voids every permit signed before.
    struct JoinSignature {
        address client;
        uint64 deadline;
        uint8 v;
        bytes32 r;
        bytes32 s;
    }

    /// @notice Protocol bounds fixed at deployment, the same for every task.
    /// @param minJoinWindow least seconds between creating a task and its join deadline.
    /// @param maxJoinWindow most seconds between creating a task and its join deadline.
    /// @param minRoundWindow least submitDuration and verdictDuration.
    /// @param maxRoundWindow most submitDuration and verdictDuration.
    /// @param minStakeFloor least minMinerStake a task may ask for (wei).
    struct Limits {
        uint256 minJoinWindow;
        uint256 maxJoinWindow;
        uint256 minRoundWindow;
        uint256 maxRoundWindow;
        uint256 minStakeFloor;
    }

    /// @notice A task as the views report it.
    struct TaskInfo {
        TaskStatus status;
        address requester;
        RewardPolicy policy;
        bytes32 category;
        uint16 rounds;
        uint16 round;
        uint16 clientCount;
        uint16 minerCount;
        uint16 committeeSize;
        uint16 attempt;
        uint16 maxClients;
        uint16 byzantineF;
        uint16 minReputation;
        uint64 joinDeadline;
        uint64 submitDeadline;
        uint64 verdictDeadline;
        uint32 submitDuration;
        uint32 verdictDuration;
        uint256 perRoundReward;
        uint256 rewardUnit;
        uint256 clientMortgage;
        uint256 minMinerStake;
        uint256 minTotalStake;
        uint256 pot;
        uint256 totalStake;
        uint256 unsettled;
        uint256 missedTotal;
    }

    /// @notice A participant's membership in a task (role None once settled).
    struct MemberInfo {
        MemberRole role;
        uint8 index;
        uint16 reputationAtJoin;
    }

    /// @notice What settling a client pays and records.
    struct ClientOutcome {
        uint256 reward;
        uint256 penalty;
        uint256 penaltyShare;
        uint256 payout;
        uint256 evaluations;
        uint256 acceptedRounds;
        uint256 evaluatedRounds;
    }
}
