// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IParticipantRegistry
/// @notice M2 participant registry: identities (addresses) of clients and miners, client data
///         profiles with FDC-style content labels, M9 reputation and M10b credits.
/// @dev Profiles mostly live in events (the audit trail of data behaviour); storage keeps only
///      what contracts check: roles, reputation, credits and per-category profile counts.
interface IParticipantRegistry {
    /// @notice A client data profile: FDC's unified content label.
    /// @param category data category the task matcher uses (e.g. keccak256("mnist-digits")).
    /// @param dataType data type label (e.g. keccak256("image/28x28-gray")).
    /// @param size number of samples (or bytes) of the data set.
    /// @param nameHash hash of the data set's name and profile text.
    /// @param contentHash hash of the data itself; also the profile's key.
    /// @param timestamp when the data was collected (unix seconds).
    /// @param location location label (e.g. a geohash), bytes32.
    struct DataProfile {
        bytes32 category;
        bytes32 dataType;
        uint64 size;
        bytes32 nameHash;
        bytes32 contentHash;
        uint64 timestamp;
        bytes32 location;
    }

    /// @notice A participant's on-chain record. Reputation is kept per requester
    ///         ({reputationOf}): what a client earned in one requester's tasks counts in that
    ///         requester's tasks only, so reputation farmed in self-made tasks buys nothing
    ///         elsewhere (H-2).
    /// @param roles bit 0 client, bit 1 miner.
    /// @param registeredAt block timestamp of the first registration.
    /// @param credits M10b eq. 12 credits C = C_base + C_obtain (wei of rewards obtained).
    /// @param homeRequester id ({requesterId}) of the first requester whose task settled this
    ///        participant (0: none yet); its reputation score there is kept in this record,
    ///        scores with other requesters in a mapping.
    /// @param homeScore the net reputation change in the home requester's scope.
    struct Account {
        uint8 roles;
        uint40 registeredAt;
        uint128 credits;
        uint32 homeRequester;
        int32 homeScore;
    }

    /// @notice Emitted when `participant` registers a role (1 client, 2 miner).
    event ParticipantRegistered(address indexed participant, uint8 role, uint16 reputation);
    /// @notice Emitted when a client adds a data profile.
    event DataProfileAdded(address indexed client, bytes32 indexed category, DataProfile profile);
    /// @notice Emitted when a client removes the data profile keyed by `contentHash`.
    event DataProfileRemoved(address indexed client, bytes32 indexed category, bytes32 contentHash);
    /// @notice Emitted once, when the deployer names the TaskManager.
    event TaskManagerSet(address indexed taskManager);
    /// @notice Emitted when a task's settlement applies its evaluations (reputation in
    ///         `requester`'s scope `previous` -> `current`) and `earned` credits to a participant.
    event TaskOutcomeApplied(
        address indexed participant,
        uint256 indexed taskId,
        address indexed requester,
        uint16 previous,
        uint16 current,
        uint128 earned
    );
    /// @notice Emitted when a participant obtains credits (C_obtain) from a task.
    event CreditsAwarded(address indexed participant, uint256 indexed taskId, uint128 amount);

    /// @notice The caller is not the deployer allowed to set the TaskManager.
    error ParticipantRegistryNotDeployer(address caller);
    /// @notice The TaskManager was already set.
    error ParticipantRegistryTaskManagerAlreadySet(address taskManager);
    /// @notice The TaskManager address is zero.
    error ParticipantRegistryZeroTaskManager();
    /// @notice Only the TaskManager may write reputation and credits.
    error ParticipantRegistryNotTaskManager(address caller);
    /// @notice `participant` already holds `role`.
    error ParticipantRegistryAlreadyRegistered(address participant, uint8 role);
    /// @notice `participant` is not registered as a client.
    error ParticipantRegistryNotClient(address participant);
    /// @notice A profile with this content hash exists already.
    error ParticipantRegistryProfileExists(address client, bytes32 contentHash);
    /// @notice No profile with this content hash.
    error ParticipantRegistryUnknownProfile(address client, bytes32 contentHash);
    /// @notice A profile field is invalid (zero category or content hash, zero size).
    error ParticipantRegistryInvalidProfile(address client, bytes32 contentHash);
    /// @notice Deployment parameters out of range (threshold must be <= gammaMax <= 65535).
    error ParticipantRegistryInvalidParameters(uint256 gammaMax, uint256 threshold);

    /// @notice Registers the caller as a client (reputation starts at the threshold h).
    /// @dev Emits a {ParticipantRegistered} event.
    function registerClient() external;

    /// @notice Registers the caller as a miner (verifier / committee candidate).
    /// @dev Emits a {ParticipantRegistered} event.
    function registerMiner() external;

    /// @notice Adds a data profile for the calling client, keyed by its content hash.
    /// @dev Emits a {DataProfileAdded} event.
    function addDataProfile(DataProfile calldata profile) external;

    /// @notice Removes the caller's profile keyed by `contentHash`.
    /// @dev Emits a {DataProfileRemoved} event.
    function removeDataProfile(bytes32 contentHash) external;

    /// @notice Names the TaskManager, the only writer of reputation and credits. Once, by the deployer.
    /// @dev Emits a {TaskManagerSet} event.
    function setTaskManager(address taskManager) external;

    /// @notice Applies a task's outcome to `participant`'s reputation in `requester`'s scope
    ///         and adds `earned` to its credits. The task's M9 trajectory runs from
    ///         `gammaAtJoin` (bit k of `evaluations` = k-th round accepted); its net change is
    ///         added to the participant's score, so the result does not depend on the order in
    ///         which tasks are settled (L-1).
    /// @dev Only the TaskManager. Emits a {TaskOutcomeApplied} event.
    function applyTaskOutcome(
        uint256 taskId,
        address requester,
        address participant,
        uint256 gammaAtJoin,
        uint256 evaluations,
        uint256 count,
        uint256 earned
    ) external returns (uint16 reputation);

    /// @notice Adds credits without a reputation change (e.g. the contribution policy's leader cut).
    /// @dev Only the TaskManager. Emits a {CreditsAwarded} event.
    function awardCredits(uint256 taskId, address participant, uint256 amount) external;

    /// @notice Roles (bit 0 client, bit 1 miner), reputation in `requester`'s scope, whether the
    ///         participant has at least one profile in `category`, and the samples its
    ///         profiles there declare: what the TaskManager checks and fixes when someone joins.
    function eligibility(address participant, bytes32 category, address requester)
        external
        view
        returns (uint8 roles, uint16 reputation, bool hasCategory, uint256 samples);

    /// @notice The participant's record.
    function accountOf(address participant) external view returns (Account memory);

    /// @notice M9 reputation gamma of `participant` in `requester`'s tasks: h plus the net
    ///         change of its settled tasks there, clamped to [0, gammamax] (0 for the unregistered).
    function reputationOf(address participant, address requester) external view returns (uint16);

    /// @notice The registry's id of a requester (1, 2, ... in order of first settlement; 0 none).
    function requesterId(address requester) external view returns (uint32);

    /// @notice Samples declared by `client`'s profiles in `category`.
    function sampleTotal(address client, bytes32 category) external view returns (uint256);

    /// @notice Credits C = C_base + C_obtain of `participant` (0 for the unregistered).
    function creditsOf(address participant) external view returns (uint128);

    /// @notice Number of `client`'s profiles in `category`.
    function profileCount(address client, bytes32 category) external view returns (uint32);

    /// @notice Category of `client`'s profile keyed by `contentHash` (zero if none).
    function profileCategory(address client, bytes32 contentHash) external view returns (bytes32);

    /// @notice The TaskManager allowed to write reputation and credits (zero until set).
    function taskManager() external view returns (address);

    /// @notice Maximum reputation gammamax.
    function gammaMax() external view returns (uint16);

    /// @notice Threshold h (also the initial reputation).
    function threshold() external view returns (uint16);

    /// @notice Base credits C_base granted at registration.
    function baseCredits() external view returns (uint128);
}
