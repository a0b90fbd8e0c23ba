"""The parts of a task participants need besides the chain: training, privacy, verification,
and the manifest (:class:`TaskManifest`) that carries them in the initial model blob."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from fedchain.learning import (
    ModelSpec,
    ModelSpecError,
    PrivacyConfig,
    PrivacyConfigError,
    build_model,
    make_spec,
    model_names,
    privacy_mechanisms,
)
from fedchain.learning.data import DATASETS
from fedchain.roles.judging import DEFAULT_OUTLIER_FACTOR, SUPPORTED_RULES
from fedchain.roles.taskfile.errors import kind_of, located_error
from fedchain.roles.taskfile.reader import MISSING, Table

__all__ = [
    "MANIFEST_FORMAT",
    "TRAINING_KEYS",
    "VERIFICATION_KEYS",
    "TaskManifest",
    "TrainingConfig",
    "VerificationConfig",
    "model_spec",
    "privacy_config",
    "read_privacy",
]

#: Version tag of :meth:`TaskManifest.to_json`.
MANIFEST_FORMAT: Final = "fedchain-task/1"
#: Keys of ``[training]``.
TRAINING_KEYS: Final = ("epochs", "batch_size", "lr", "momentum")
#: Keys of ``[verification]``.
VERIFICATION_KEYS: Final = ("rule", "tolerance", "screen_stale", "outlier_factor", "drop")
_DEFAULT_PRIVACY_PARAMS: Final = {"feature_dp": {"epsilon": 2.0}}


@dataclass(frozen=True)
class TrainingConfig:
    """Local training hyper-parameters every client uses (see ``train_local``)."""

    epochs: int
    batch_size: int
    lr: float
    momentum: float

    @classmethod
    def _read(cls, t: Table, *, required: bool) -> TrainingConfig:
        def default(value: Any) -> Any:
            return MISSING if required else value

        return cls(
            epochs=t.integer("epochs", default(5), lo=1),
            batch_size=t.integer("batch_size", default(16), lo=1),
            lr=t.number("lr", default(0.05), lo=0.0, lo_open=True),
            momentum=t.number("momentum", default(0.5), lo=0.0, below=1.0),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "lr": self.lr,
            "momentum": self.momentum,
        }


@dataclass(frozen=True)
class VerificationConfig:
    """How committee members judge a round.

    Attributes:
        rule: a verification rule a committee member can run from the chain and the store
            (:data:`fedchain.roles.judging.SUPPORTED_RULES`).
        tolerance: largest absolute difference allowed between the leader's global model and a
            member's own aggregate before it refuses to attest.
        screen_stale: reject updates equal to the global model (an all-zero delta) and exact
            duplicates before the rule runs.
        outlier_factor: Multi-KRUM rejects (and M11 penalises) an update only when its score
            exceeds this multiple of the selected updates' median score; the other updates the
            cut leaves out are accepted but not aggregated (see :mod:`fedchain.roles.judging`).
            Under ``"mutual"``, an update whose median score is below the typical update's ÷
            this factor is rejected as poor.
        drop: under ``"mutual"`` (003's mutual supervision), how many of the lowest-quality
            updates stay out of each round's aggregate (poor ones count first).
    """

    rule: str
    tolerance: float
    screen_stale: bool
    outlier_factor: float = DEFAULT_OUTLIER_FACTOR
    drop: int = 1

    @classmethod
    def _read(cls, t: Table, *, required: bool) -> VerificationConfig:
        def default(value: Any) -> Any:
            return MISSING if required else value

        return cls(
            rule=t.text("rule", default("multikrum"), choices=list(SUPPORTED_RULES)),
            tolerance=t.number("tolerance", default(1e-4), lo=0.0),
            screen_stale=t.flag("screen_stale", default(True)),
            outlier_factor=t.number("outlier_factor", DEFAULT_OUTLIER_FACTOR, lo=1.0, lo_open=True),
            drop=t.integer("drop", 1, lo=0),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "rule": self.rule,
            "tolerance": self.tolerance,
            "screen_stale": self.screen_stale,
            "outlier_factor": self.outlier_factor,
            **({"drop": self.drop} if self.rule == "mutual" else {}),
        }


def model_spec(t: Table, name: str, params: Any) -> ModelSpec:
    """The registered model ``name`` resolved with ``params``; errors name ``t``'s keys.

    The model is built once (a few kilobytes of weights), so that a bad parameter
    value (``norm = "bogus"``) is reported here, naming the file and ``[model] params``, and not
    later by whoever builds the model first.
    """
    if name not in model_names():
        raise t.error("name", f"unknown model {name!r}; known: {', '.join(model_names())}")
    if not isinstance(params, Mapping):
        raise t.error("params", f"must be a table, got {kind_of(params)}")
    try:
        spec = make_spec(name, **params)
        build_model(spec, seed=0)  # seeded: the global torch RNG is left alone
    except ModelSpecError as exc:
        raise t.error("params", str(exc)) from None
    return spec


def privacy_config(t: Table, mechanism: str, params: Mapping[str, Any]) -> PrivacyConfig | None:
    """The DP ``mechanism`` with ``params``, or None for ``"none"``; errors name ``t``'s keys."""
    known = privacy_mechanisms()
    if mechanism == "none":
        if params:
            raise t.error("mechanism", f'"none" takes no parameters, got {", ".join(params)}')
        return None
    if mechanism not in known:
        raise t.error(
            "mechanism", f"unknown mechanism {mechanism!r}; known: {', '.join(known)}, none"
        )
    try:
        return PrivacyConfig.create(mechanism, **params)
    except PrivacyConfigError as exc:
        raise t.error(None, f"{mechanism} parameters: {exc}") from None


def read_privacy(p: Table) -> PrivacyConfig | None:
    """A task file's ``[privacy]``: ``mechanism`` (default feature_dp) and its parameters."""
    mechanism = p.text("mechanism", "feature_dp")
    given = {k: v for k, v in p.data.items() if k != "mechanism"}
    return privacy_config(p, mechanism, {**_DEFAULT_PRIVACY_PARAMS.get(mechanism, {}), **given})


@dataclass(frozen=True)
class TaskManifest:
    """What participants need besides the chain: model, data set, training, privacy, verification.

    It travels as JSON (:meth:`to_json`) in the initial model blob's metadata; the hash of
    ``model`` is on chain as the task's ``modelSpecHash``.
    """

    name: str
    category: str
    dataset: str
    model: ModelSpec
    training: TrainingConfig
    privacy: PrivacyConfig | None
    verification: VerificationConfig
    #: How the requester releases the final model (``{"mechanism": "model_laplace", "epsilon",
    #: "sensitivity"}``, a ``[request]``'s release), or None: it is not perturbed.
    release: dict[str, Any] | None = None

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, no spaces."""
        data = {
            "format": MANIFEST_FORMAT,
            "name": self.name,
            "category": self.category,
            "dataset": self.dataset,
            "model": self.model.to_dict(),
            "training": self.training.to_dict(),
            "privacy": None if self.privacy is None else self.privacy.to_dict(),
            "verification": self.verification.to_dict(),
        }
        if self.release is not None:  # absent otherwise: older manifests read the same
            data["release"] = dict(self.release)
        return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> TaskManifest:
        """Parse and validate :meth:`to_json`'s output.

        Raises:
            TaskFileError: not JSON, another format, missing or unknown fields, bad values.
        """
        source = "task manifest"
        try:
            data = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise located_error(source, None, None, f"not valid JSON: {exc}") from None
        keys = ("format", "name", "category", "dataset", "model", "training", "privacy",
                "verification", "release")  # fmt: skip
        top = Table(source, None, data, keys)
        found = top.get("format", MISSING)
        if found != MANIFEST_FORMAT:
            raise top.error("format", f"expected {MANIFEST_FORMAT!r}, got {found!r}")
        model = Table(source, "model", top.get("model", MISSING), ("name", "params"))
        params = model.get("params", MISSING)
        model_spec(model, model.text("name", MISSING), params)  # resolvable here
        spec = ModelSpec(model.data["name"], params)  # as published: its hash is on chain
        privacy = top.get("privacy", MISSING)
        if privacy is not None:
            p = Table(source, "privacy", privacy, ("mechanism", "params"))
            mechanism = p.text("mechanism", MISSING)
            if mechanism == "none":
                raise p.error("mechanism", 'no privacy is written as null, not "none"')
            dp_params = p.get("params", MISSING)
            if not isinstance(dp_params, Mapping):
                raise p.error("params", f"must be an object, got {kind_of(dp_params)}")
            privacy = privacy_config(p, mechanism, dp_params)
        release = top.get("release", None)
        if release is not None:
            r = Table(source, "release", release, ("mechanism", "epsilon", "sensitivity"))
            r.text("mechanism", MISSING, choices=["model_laplace"])
            release = {
                "mechanism": "model_laplace",
                "epsilon": r.number("epsilon", MISSING, lo=0.0, lo_open=True),
                "sensitivity": r.number("sensitivity", MISSING, lo=0.0, lo_open=True),
            }
        return cls(
            name=top.text("name", MISSING),
            category=top.text("category", MISSING),
            dataset=top.text("dataset", MISSING, choices=sorted(DATASETS)),
            model=spec,
            training=TrainingConfig._read(
                Table(source, "training", top.get("training", MISSING), TRAINING_KEYS),
                required=True,
            ),
            privacy=privacy,
            verification=VerificationConfig._read(
                Table(source, "verification", top.get("verification", MISSING), VERIFICATION_KEYS),
                required=True,
            ),
            release=release,
        )
