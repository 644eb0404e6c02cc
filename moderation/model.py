"""The classifier: a transformer encoder, mean pooling and one sigmoid head per label.

``Moderator`` is the runtime object tools use: ``load``, ``save``, ``predict_proba``
and the ``score*`` helpers. Training lives in :mod:`training` and only produces
directories that ``Moderator.load`` reads.

A model directory holds ``config.json`` + tokenizer files (standard transformers
layout for the encoder), ``model.safetensors`` (encoder and head, fp16 on disk) and
``moderation.json`` (labels, calibration, thresholds, version and provenance).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from moderation.cpu import BackendChoice, choose_backend, has_bf16_matrix_units  # noqa: F401 (re-exported)
from moderation.errors import ModelError
from moderation.labels import LABELS
from moderation.normalise import normalise
from moderation.types import MAX_CHARS, Document, Scores, check_backend

META_FILE = "moderation.json"
WEIGHTS_FILE = "model.safetensors"
CHECKPOINTS_DIR = "checkpoints"  # a training run's resume state inside its output folder; not part of the model
MODELS_DIR_ENV = "MODERATION_MODELS_DIR"
#: Batch widths are rounded up to this many tokens. With at most 8 distinct widths (at 128
#: tokens), oneDNN reuses its kernels and glibc its freed blocks: on 20,000 real comments
#: scoring ran 3% faster and peaked at 870 MB instead of 1.5-1.6 GB (bf16, glibc malloc).
PAD_TO_MULTIPLE = 16
#: A long comment is read whole in windows of the model's ``max_length`` tokens that overlap by a
#: quarter window; each label takes its maximum over the windows (an insult after 300 benign tokens
#: still counts). At most this many windows per text: ``truncated`` means this cap was reached.
MAX_WINDOWS = 32


def default_models_dir() -> Path:
    """``$MODERATION_MODELS_DIR``; else ``models/`` of the checkout this code runs from (a clone or an
    editable install); else, for an installed wheel, the user's data folder
    (``$XDG_DATA_HOME/moderation/models``, by default ``~/.local/share/moderation/models``), where
    ``moderation models install`` puts models."""
    env = os.environ.get(MODELS_DIR_ENV)
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "models").is_dir():
        return checkout / "models"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "moderation" / "models"


def default_model_path() -> Path:
    return default_models_dir() / "default"


def backend_choice(backend: str, hidden: int = 384, intermediate: int | None = None) -> BackendChoice:
    """The backend ``backend`` runs on here, and why: the single place ``auto`` is decided (CLI, service, Spark).

    ``hidden``/``intermediate``: the encoder's feed-forward shape, at which a CPU with AVX-512 BF16
    but no AMX measures bf16 against fp32 (see :mod:`moderation.cpu`).
    """
    try:
        check_backend(backend)
    except ValueError as exc:
        raise ModelError(str(exc)) from None
    return choose_backend(backend, hidden, intermediate)


def resolve_backend(backend: str, hidden: int = 384, intermediate: int | None = None) -> str:
    """``torch`` or ``bf16``: what ``backend`` runs on here (``backend_choice`` without the reasons)."""
    return backend_choice(backend, hidden, intermediate).backend


class MultiLabelHead(nn.Module):
    """Encoder + attention-masked mean pooling + a linear layer giving one logit per label."""

    def __init__(self, encoder: nn.Module, num_labels: int, dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(encoder.config.hidden_size, num_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **kw: Any) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **kw).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-6)
        return self.classifier(self.dropout(pooled))

    def grow_labels(self, extra: int) -> None:
        """Append ``extra`` freshly initialised outputs (used when adding a label)."""
        old = self.classifier
        new = nn.Linear(old.in_features, old.out_features + extra)
        with torch.no_grad():
            new.weight[: old.out_features] = old.weight
            new.bias[: old.out_features] = old.bias
        self.classifier = new


def calibrate(logits: np.ndarray, calibration: dict[str, list[float]], labels: Sequence[str]) -> np.ndarray:
    """Platt scaling per label: p = sigmoid(a * logit + b)."""
    a = np.array([calibration.get(l, [1.0, 0.0])[0] for l in labels], dtype=np.float64)
    b = np.array([calibration.get(l, [1.0, 0.0])[1] for l in labels], dtype=np.float64)
    return 1.0 / (1.0 + np.exp(-(logits.astype(np.float64) * a + b)))


class Moderator:
    """Scores comments for hostility, misinformation and finer attributes.

    Thread safety: ``predict_proba`` and the ``score*`` methods may be called from
    several threads; forward passes are serialised by an internal lock (torch already
    uses all cores for one batch, so parallel forwards would only contend).
    """

    def __init__(self, net: MultiLabelHead, tokenizer: Any, meta: dict[str, Any], path: Path | None = None):
        self.net = net.eval()
        self.path = path  # the folder it was loaded from (None if built in memory)
        self.backend = "torch"
        self.backend_choice = BackendChoice("torch", "torch", "requested")
        self._runner: Callable[[np.ndarray, np.ndarray], np.ndarray] = self._torch_forward
        self.tokenizer = tokenizer
        self.meta = meta
        self.labels: list[str] = list(meta["labels"])  # every output head, in predict_proba's column order
        #: Heads that did not earn their place (evaluation sets these, with the reason): scores and
        #: labels leave them out, ``predict_proba`` still has their columns.
        self.withheld: dict[str, str] = dict(meta.get("withheld_labels") or {})
        self.thresholds: dict[str, float] = {l: float(meta.get("thresholds", {}).get(l, 0.5)) for l in self.labels}
        self.calibration: dict[str, list[float]] = meta.get("calibration", {})
        self.max_length: int = int(meta.get("max_length", 128))
        self.batch_size: int = 64
        self._lock = threading.Lock()

    # --- persistence ---------------------------------------------------------------------

    @property
    def languages(self) -> list[str]:
        """Languages of the model's training data (ISO 639-1; models that do not record them: English)."""
        return list(self.meta.get("languages") or ["en"])

    @property
    def emitted_labels(self) -> list[str]:
        """The labels scores carry: every head but the withheld ones."""
        return [label for label in self.labels if label not in self.withheld]

    @property
    def normalises(self) -> bool:
        """Whether texts are normalised (:mod:`moderation.normalise`) before tokenising: set in the
        metadata by training, so that a model reads text as it was trained on."""
        return bool(self.meta.get("normalise"))

    def prepare(self, texts: Sequence[str]) -> list[str]:
        """The texts as the encoder reads them (normalised if the model was trained so)."""
        return [normalise(t) for t in texts] if self.normalises else list(texts)

    @property
    def name(self) -> str:
        return f"{self.meta.get('name', 'moderation')}@{self.meta.get('version', '0')}"

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, backend: str = "auto") -> "Moderator":
        """Load a model directory; with no argument, the shipped default model.

        Backends: ``torch`` (fp32), ``bf16`` (torch with bfloat16 autocast: probabilities
        within about 0.01 of fp32, 2-3x faster on CPUs with AMX or AVX-512 BF16), and ``auto``:
        bf16 where the CPU runs bf16 natively, else torch (the rule: ``moderation.cpu.RULE``).
        """
        from safetensors import SafetensorError
        from safetensors.torch import load_file
        from transformers import AutoModel, AutoTokenizer

        path = model_dir(path)
        meta = read_meta(path)
        config = _encoder_config(path)
        try:
            encoder = AutoModel.from_config(config)
            net = MultiLabelHead(encoder, len(meta["labels"]))
            state = {k: v.float() for k, v in load_file(path / WEIGHTS_FILE).items()}
            net.load_state_dict(state)
            tokenizer = AutoTokenizer.from_pretrained(path)
        except (OSError, ValueError, KeyError, RuntimeError, SafetensorError) as exc:
            raise _corrupt(path, exc) from exc
        return cls(net, tokenizer, meta, path).with_backend(backend)

    def with_backend(self, backend: str) -> "Moderator":
        """The same model (shared weights and metadata) on another backend (see ``load``)."""
        config = self.net.encoder.config
        choice = backend_choice(backend, config.hidden_size, getattr(config, "intermediate_size", None))
        if choice == self.backend_choice:
            return self
        twin = Moderator(self.net, self.tokenizer, self.meta, self.path)
        twin.batch_size, twin.thresholds, twin.calibration = self.batch_size, self.thresholds, self.calibration
        twin.withheld = self.withheld
        if choice.backend == "bf16":
            twin._runner = twin._bf16_forward
        twin.backend, twin.backend_choice = choice.backend, choice
        return twin

    def save(self, path: str | os.PathLike, fp16: bool = True) -> Path:
        """Write a self-contained model directory (fp16 weights keep it small)."""
        from safetensors.torch import save_file

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        state = {k: (v.half() if fp16 and v.is_floating_point() else v).contiguous() for k, v in self.net.state_dict().items()}
        save_file(state, path / WEIGHTS_FILE)
        self.net.encoder.config.save_pretrained(path)
        self.tokenizer.save_pretrained(path)
        meta = dict(self.meta, labels=self.labels, thresholds=self.thresholds, calibration=self.calibration, max_length=self.max_length)
        meta.pop("withheld_labels", None)
        if self.withheld:
            meta["withheld_labels"] = self.withheld
        (path / META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
        return path

    # --- inference -----------------------------------------------------------------------

    @property
    def window_overlap(self) -> int:
        """Tokens shared by consecutive windows of a long text."""
        return max(1, self.max_length // 4)

    def _windows(self, texts: Sequence[str]) -> tuple[list[list[int]], np.ndarray, np.ndarray]:
        """Token windows of every text (special tokens included), the text each belongs to, and
        which texts had more windows than ``MAX_WINDOWS`` (only the first ones are kept)."""
        enc = self.tokenizer(
            [t[:MAX_CHARS] for t in self.prepare(texts)],
            truncation=True,
            max_length=self.max_length,
            stride=self.window_overlap,
            return_overflowing_tokens=True,
            return_attention_mask=False,
        )
        owner = np.asarray(enc["overflow_to_sample_mapping"], dtype=np.int64)
        rank = np.zeros(len(owner), dtype=np.int64)
        if len(owner):
            starts = np.r_[0, np.flatnonzero(np.diff(owner)) + 1]
            rank = np.arange(len(owner)) - np.repeat(starts, np.diff(np.r_[starts, len(owner)]))
        keep = rank < MAX_WINDOWS
        cut = np.zeros(len(texts), dtype=bool)
        cut[owner[~keep]] = True
        return [ids for ids, k in zip(enc["input_ids"], keep) if k], owner[keep], cut

    def logits(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Raw logits, shape (n, labels): per label the maximum over a text's windows (see ``MAX_WINDOWS``).

        Windows are length-sorted into batches to minimise padding."""
        return self._window_logits(texts, batch_size)[0]

    def _window_logits(self, texts: Sequence[str], batch_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        batch_size = batch_size or self.batch_size
        ids, owner, cut = self._windows(texts)
        out = np.full((len(texts), len(self.labels)), -np.inf, dtype=np.float32)
        order = np.argsort([len(x) for x in ids], kind="stable")
        pad = self.tokenizer.pad_token_id or 0
        with self._lock, torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                width = -(-max(len(ids[i]) for i in idx) // PAD_TO_MULTIPLE) * PAD_TO_MULTIPLE
                input_ids = np.full((len(idx), width), pad, dtype=np.int64)
                mask = np.zeros((len(idx), width), dtype=np.int64)
                for row, i in enumerate(idx):
                    input_ids[row, : len(ids[i])] = ids[i]
                    mask[row, : len(ids[i])] = 1
                np.maximum.at(out, owner[idx], self._forward(input_ids, mask))
        return out, cut

    def truncated(self, texts: Sequence[str]) -> list[bool]:
        """Which texts are not read whole: over ``MAX_CHARS`` characters or ``MAX_WINDOWS`` windows."""
        # A text of c characters has at most 2c + 1 tokens (a lone word-start marker per character at
        # worst), so only texts that could reach the window cap are tokenised again.
        content = self.max_length - 2
        reach = content + (MAX_WINDOWS - 1) * (content - self.window_overlap)
        # Normalisation can lengthen a text ("@a" becomes "@USER"), so the bound counts what is read.
        long = [i for i, t in enumerate(self.prepare(texts)) if 2 * len(t) + 1 > reach]
        flags = [len(t) > MAX_CHARS for t in texts]
        if long:
            for i, cut in zip(long, self._windows([texts[i] for i in long])[2]):
                flags[i] = flags[i] or bool(cut)
        return flags

    def _forward(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """One padded batch to logits on the current backend."""
        return self._runner(input_ids, attention_mask)

    def _torch_forward(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return self.net(torch.from_numpy(input_ids), torch.from_numpy(attention_mask)).float().numpy()

    def _bf16_forward(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        # Autocast rather than bf16 weights: layer norms, softmax and pooling stay fp32,
        # which halves the drift from fp32 (max 0.005 vs 0.009 on 600 long comments).
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return self._torch_forward(input_ids, attention_mask)

    def predict_proba(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Calibrated probabilities, shape (n, labels), columns in ``self.labels`` order."""
        _check_texts(texts)
        if len(texts) == 0:
            return np.zeros((0, len(self.labels)))
        return calibrate(self.logits(texts, batch_size), self.calibration, self.labels)

    def _to_scores(self, probs: np.ndarray, ids: Sequence[str | None], texts: Sequence[str],
                   windows_cut: Sequence[bool] | None = None) -> list[Scores]:
        """Scores records; ``windows_cut`` (from ``_window_logits``) spares tokenising long texts again."""
        flags = self.truncated(texts) if windows_cut is None else [
            bool(c) or len(t) > MAX_CHARS for c, t in zip(windows_cut, texts)]
        results = []
        for row, id_, cut in zip(probs, ids, flags):
            scores = {l: round(float(p), 4) for l, p in zip(self.labels, row) if l not in self.withheld}
            flagged = [l for l in scores if scores[l] >= self.thresholds[l]]
            results.append(Scores(scores=scores, labels=flagged, model=self.name, id=id_, truncated=cut))
        return results

    def score(self, texts: Sequence[str], ids: Sequence[str | None] | None = None) -> list[Scores]:
        """Score a list of texts; results keep input order."""
        ids = list(ids) if ids is not None else [None] * len(texts)
        if len(ids) != len(texts):
            raise ValueError(f"got {len(ids)} ids for {len(texts)} texts")
        _check_texts(texts)
        if len(texts) == 0:
            return []
        logits, cut = self._window_logits(texts)
        return self._to_scores(calibrate(logits, self.calibration, self.labels), ids, texts, cut)

    def score_one(self, text: str) -> Scores:
        return self.score([text])[0]

    def stream(self, texts: Iterable[str], batch_size: int = 256) -> Iterator[Scores]:
        """Score an iterable lazily, ``batch_size`` texts at a time."""
        batch: list[str] = []
        for text in texts:
            batch.append(text)
            if len(batch) >= batch_size:
                yield from self.score(batch)
                batch = []
        if batch:
            yield from self.score(batch)

    def score_page(self, text_or_html: str, source: str | None = None) -> tuple[Document, list[Scores]]:
        """Extract a page dump and score its comments (the article is context only)."""
        from moderation.extract import extract_page

        doc = extract_page(text_or_html, source=source)
        scores = self.score([c.text for c in doc.comments], ids=[c.id for c in doc.comments])
        return doc, scores


def _check_texts(texts: Sequence[str]) -> None:
    """A clear error for inputs the tokenizer would reject with an obscure one."""
    if isinstance(texts, (str, bytes)):
        raise TypeError("texts must be a sequence of strings, not one string (use score_one for a single text)")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] is {type(text).__name__}, not a string")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(f"texts[{i}] is not valid Unicode: a lone surrogate at character {exc.start}") from None


def read_meta(path: Path) -> dict[str, Any]:
    """A model folder's metadata, checked for the keys loading needs."""
    try:
        meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path / META_FILE}: unreadable ({exc})") from None
    labels = meta.get("labels") if isinstance(meta, dict) else None
    if not isinstance(labels, list) or not labels or not all(isinstance(label, str) for label in labels):
        raise ModelError(f"{path / META_FILE}: not model metadata (no list of label names)")
    for key in ("thresholds", "calibration"):
        if not isinstance(meta.get(key, {}), dict):
            raise ModelError(f"{path / META_FILE}: {key} must be a mapping of labels")
    return meta


def _corrupt(path: Path, exc: Exception) -> ModelError:
    return ModelError(f"model at {path} is incomplete or corrupt: {str(exc).splitlines()[0]}")


def _encoder_config(path: Path) -> Any:
    """The encoder's transformers config; a missing or unreadable one is a ModelError."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise _corrupt(path, exc) from None


def check_model_dir(path: str | os.PathLike | None = None) -> Path:
    """Everything ``Moderator.load`` reads, checked without building the network (for fail-fast CLIs)."""
    path = model_dir(path)
    read_meta(path)
    missing = [name for name in (WEIGHTS_FILE, "config.json", "tokenizer_config.json") if not (path / name).is_file()]
    if missing:
        raise ModelError(f"model at {path} is incomplete: {', '.join(missing)} missing")
    _encoder_config(path)
    return path


def model_dir(path: str | os.PathLike | None = None) -> Path:
    """The model directory to load (default model, registry pointers followed); fails if absent."""
    given = path is not None
    path = Path(path) if path is not None else default_model_path()
    if path.is_symlink():  # a registry pointer such as models/default: report the real folder
        path = path.resolve()
    if not given and not (path / META_FILE).is_file():
        raise ModelError(f"no default model in {path.parent}: install one with `moderation models install PATH|URL` "
                         f"(a model folder or an archive of one), or pass a model folder")
    if not (path / META_FILE).is_file():
        raise ModelError(f"no model at {path}: {META_FILE} not found")
    return path

