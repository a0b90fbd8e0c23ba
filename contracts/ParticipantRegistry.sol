// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";
import {Reputation} from "./libraries/Reputation.sol";

/// @title ParticipantRegistry
/// @notice Identities, data profiles (M2), reputation (M9) and credits (M10b).
contract ParticipantRegistry is IParticipantRegistry {
    uint8 internal constant _ROLE_CLIENT = 1;
    uint8 internal constant _ROLE_MINER = 2;

    uint16 private immutable _gammaMax;
    uint16 private immutable _threshold;
    uint128 private immutable _baseCredits;
    address private immutable _deployer;

    address private _taskManager;
    mapping(address participant => Account) private _accounts;
    /// @dev Per (client, category): profile count (bits 0..31) | declared samples (bits 32..255).
    mapping(address client => mapping(bytes32 category => uint256 stats)) private _profileStats;
    mapping(address client => mapping(bytes32 contentHash => bytes32 category)) private _profiles;
    mapping(address client => mapping(bytes32 contentHash => uint64 size)) private _profileSizes;
    /// @dev Net reputation change per (participant, requester) scope, gamma = clamp(h + score),
    ///      for every requester but the participant's home one (kept in its Account word, so a
    ///      client working for one requester never pays for a new slot).
    mapping(address participant => mapping(address requester => int256 score)) private _scores;
    mapping(address requester => uint32 id) private _requesterIds;
    uint32 private _requesterCount;

    /// @param gammaMax_ maximum reputation gammamax (paper 004: 100).
    /// @param threshold_ threshold h, also every participant's initial reputation (paper 004: 5).
    /// @param baseCredits_ C_base granted at registration.
    constructor(uint16 gammaMax_, uint16 threshold_, uint128 baseCredits_) {
        if (gammaMax_ == 0 || threshold_ > gammaMax_) {
            revert ParticipantRegistryInvalidParameters(gammaMax_, threshold_);
        }
        _gammaMax = gammaMax_;
        _threshold = threshold_;
        _baseCredits = baseCredits_;
        _deployer = msg.sender;
    }

    modifier onlyTaskManager() {
        if (msg.sender != _taskManager || msg.sender == address(0)) {
            revert ParticipantRegistryNotTaskManager(msg.sender);
        }
        _;
    }

    /// @inheritdoc IParticipantRegistry
    function registerClient() external {
        _register(_ROLE_CLIENT);
    }

    /// @inheritdoc IParticipantRegistry
    function registerMiner() external {
        _register(_ROLE_MINER);
    }

    /// @inheritdoc IParticipantRegistry
    function addDataProfile(DataProfile calldata profile) external {
        if (_accounts[msg.sender].roles & _ROLE_CLIENT == 0) {
            revert ParticipantRegistryNotClient(msg.sender);
        }
        bytes32 key = profile.contentHash;
        if (profile.category == bytes32(0) || key == bytes32(0) || profile.size == 0) {
            revert ParticipantRegistryInvalidProfile(msg.sender, key);
        }
        if (_profiles[msg.sender][key] != bytes32(0)) {
            revert ParticipantRegistryProfileExists(msg.sender, key);
        }
        _profiles[msg.sender][key] = profile.category;
        _profileSizes[msg.sender][key] = profile.size;
        _profileStats[msg.sender][profile.category] += 1 | (uint256(profile.size) << 32);
        emit DataProfileAdded(msg.sender, profile.category, profile);
    }

    /// @inheritdoc IParticipantRegistry
    function removeDataProfile(bytes32 contentHash) external {
        bytes32 category = _profiles[msg.sender][contentHash];
        if (category == bytes32(0)) revert ParticipantRegistryUnknownProfile(msg.sender, contentHash);
        delete _profiles[msg.sender][contentHash];
        _profileStats[msg.sender][category] -= 1 | (uint256(_profileSizes[msg.sender][contentHash]) << 32);
        delete _profileSizes[msg.sender][contentHash];
        emit DataProfileRemoved(msg.sender, category, contentHash);
    }

    /// @inheritdoc IParticipantRegistry
    function setTaskManager(address taskManager_) external {
        if (msg.sender != _deployer) revert ParticipantRegistryNotDeployer(msg.sender);
        if (_taskManager != address(0)) revert ParticipantRegistryTaskManagerAlreadySet(_taskManager);
        if (taskManager_ == address(0)) revert ParticipantRegistryZeroTaskManager();
        _taskManager = taskManager_;
        emit TaskManagerSet(taskManager_);
    }

    /// @inheritdoc IParticipantRegistry
    function applyTaskOutcome(
        uint256 taskId,
        address requester,
        address participant,
        uint256 gammaAtJoin,
        uint256 evaluations,
        uint256 count,
        uint256 earned
    ) external onlyTaskManager returns (uint16 reputation) {
        Account memory account = _accounts[participant];
        uint32 id = _requesterIds[requester];
        if (id == 0) {
            id = ++_requesterCount;
            _requesterIds[requester] = id;
        }
        uint16 previous = _reputationIn(account, participant, requester, id);
        uint256 end = Reputation.applyAll(gammaAtJoin, evaluations, count, _gammaMax, _threshold);
        // Both are below 2^16: the conversions are exact.
        int256 delta = int256(end) - int256(gammaAtJoin);
        if (account.homeRequester == 0) account.homeRequester = id;
        if (account.homeRequester == id) {
            int256 score = int256(account.homeScore) + delta;
            // Saturates instead of reverting (a settlement must always go through); 2^31 is
            // millions of tasks away.
            if (score > type(int32).max) score = type(int32).max;
            if (score < type(int32).min) score = type(int32).min;
            account.homeScore = int32(score);
        } else {
            _scores[participant][requester] += delta;
        }
        account.credits += uint128(earned);
        _accounts[participant] = account;
        reputation = _reputationIn(account, participant, requester, id);
        emit TaskOutcomeApplied(participant, taskId, requester, previous, reputation, uint128(earned));
    }

    /// @inheritdoc IParticipantRegistry
    function awardCredits(uint256 taskId, address participant, uint256 amount)
        external
        onlyTaskManager
    {
        _accounts[participant].credits += uint128(amount);
        emit CreditsAwarded(participant, taskId, uint128(amount));
    }

    /// @inheritdoc IParticipantRegistry
    function eligibility(address participant, bytes32 category, address requester)
        external
        view
        returns (uint8 roles, uint16 reputation, bool hasCategory, uint256 samples)
    {
        Account memory account = _accounts[participant];
        roles = account.roles;
        reputation = _reputationIn(account, participant, requester, _requesterIds[requester]);
        uint256 stats = _profileStats[participant][category];
        hasCategory = category != bytes32(0) && uint32(stats) != 0;
        samples = stats >> 32;
    }

    /// @inheritdoc IParticipantRegistry
    function accountOf(address participant) external view returns (Account memory) {
        return _accounts[participant];
    }

    /// @inheritdoc IParticipantRegistry
    function reputationOf(address participant, address requester) external view returns (uint16) {
        return _reputation(participant, requester);
    }

    /// @inheritdoc IParticipantRegistry
    function requesterId(address requester) external view returns (uint32) {
        return _requesterIds[requester];
    }

    /// @inheritdoc IParticipantRegistry
    function sampleTotal(address client, bytes32 category) external view returns (uint256) {
        return _profileStats[client][category] >> 32;
    }

    /// @inheritdoc IParticipantRegistry
    function creditsOf(address participant) external view returns (uint128) {
        return _accounts[participant].credits;
    }

    /// @inheritdoc IParticipantRegistry
    function profileCount(address client, bytes32 category) external view returns (uint32) {
        return uint32(_profileStats[client][category]);
    }

    /// @inheritdoc IParticipantRegistry
    function profileCategory(address client, bytes32 contentHash) external view returns (bytes32) {
        return _profiles[client][contentHash];
    }

    /// @inheritdoc IParticipantRegistry
    function taskManager() external view returns (address) {
        return _taskManager;
    }

    /// @inheritdoc IParticipantRegistry
    function gammaMax() external view returns (uint16) {
        return _gammaMax;
    }

    /// @inheritdoc IParticipantRegistry
    function threshold() external view returns (uint16) {
        return _threshold;
    }

    /// @inheritdoc IParticipantRegistry
    function baseCredits() external view returns (uint128) {
        return _baseCredits;
    }

    function _register(uint8 role) private {
        Account storage account = _accounts[msg.sender];
        uint8 roles = account.roles;
        if (roles & role != 0) revert ParticipantRegistryAlreadyRegistered(msg.sender, role);
        if (roles == 0) {
            account.registeredAt = uint40(block.timestamp);
            account.credits = _baseCredits;
        }
        account.roles = roles | role;
        emit ParticipantRegistered(msg.sender, role, _threshold);
    }

    function _reputation(address participant, address requester) private view returns (uint16) {
        return _reputationIn(_accounts[participant], participant, requester, _requesterIds[requester]);
    }

    /// @dev clamp(h + score, 0, gammamax) in `requester`'s scope (id `id`, 0 if it has none).
    function _reputationIn(Account memory account, address participant, address requester, uint32 id)
        private
        view
        returns (uint16)
    {
        if (account.roles == 0) return 0;
        int256 score;
        if (id != 0 && account.homeRequester == id) score = account.homeScore;
        else if (account.homeRequester != 0) score = _scores[participant][requester]; // else none yet
        int256 gamma = int256(uint256(_threshold)) + score;
        if (gamma <= 0) return 0;
        // Clamped to [0, gammamax] < 2^16 just above and below.
        return gamma >= int256(uint256(_gammaMax)) ? _gammaMax : uint16(uint256(gamma));
    }
}
