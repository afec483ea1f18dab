#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes a tiny, random llama-architecture GGUF model that llama.cpp loads
and evaluates: every key llama.cpp's llama loader needs, a small SentencePiece
("llama") vocabulary with byte-fallback tokens, and random weights.

    make_tiny_llama.py OUT.gguf [--layers N] [--dim D] [--ff F] [--vocab V]
                       [--heads H] [--kv-heads K] [--dtype f32|f16] [--seed S]
                       [--tied]

--tied leaves out output.weight (llama.cpp then uses token_embd as the
output). Uses gguf-py's GGUFWriter (the gguf package)."""
import argparse
import sys

import numpy as np

try:
    import gguf
except ImportError as e:  # pragma: no cover - reported to the caller
    sys.exit(f"make_tiny_llama.py: the gguf package is needed ({e})")

# SentencePiece token types (llama.cpp's llama_token_type)
NORMAL, UNKNOWN, CONTROL, BYTE = 1, 2, 3, 6


def vocab(n):
    """<unk>, <s>, </s>, the 256 byte tokens, then word pieces up to n."""
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [UNKNOWN, CONTROL, CONTROL] + [BYTE] * 256
    letters = "abcdefghijklmnopqrstuvwxyz"
    pieces = ["\u2581" + c for c in letters] + list(letters)
    pieces += ["\u2581" + a + b for a in letters for b in letters]
    if n < len(tokens) + 1:
        sys.exit(f"make_tiny_llama.py: --vocab must be at least {len(tokens) + 1}")
    while len(tokens) < n:
        tokens.append(pieces[(len(tokens) - 259) % len(pieces)] if len(tokens) - 259 < len(pieces)
                      else f"\u2581w{len(tokens)}")
        types.append(NORMAL)
    scores = [0.0] * 259 + [-float(i) for i in range(n - 259)]
    return tokens, scores, types


def build(path, layers=2, dim=256, ff=512, n_vocab=320, heads=4, kv_heads=None, dtype="f32", seed=0,
          tied=False):
    kv_heads = kv_heads or heads
    if dim % heads or heads % kv_heads or (dim // heads) % 2:
        sys.exit("make_tiny_llama.py: dim must be a multiple of heads with an even head size, "
                 "and heads a multiple of kv-heads")
    hd = dim // heads
    rng = np.random.default_rng(seed)
    np_dtype = np.float16 if dtype == "f16" else np.float32

    def mat(rows, cols):
        return (rng.standard_normal((rows, cols)) / np.sqrt(cols)).astype(np_dtype)

    w = gguf.GGUFWriter(path, arch="llama")
    w.add_name("tiny-llama")
    w.add_context_length(256)
    w.add_embedding_length(dim)
    w.add_block_count(layers)
    w.add_feed_forward_length(ff)
    w.add_rope_dimension_count(hd)
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    w.add_vocab_size(n_vocab)
    w.add_file_type(1 if dtype == "f16" else 0)
    tokens, scores, types = vocab(n_vocab)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)

    # norms stay f32, as convert_hf_to_gguf.py writes them
    w.add_tensor("token_embd.weight", mat(n_vocab, dim))
    w.add_tensor("output_norm.weight", np.ones(dim, dtype=np.float32))
    if not tied:
        w.add_tensor("output.weight", mat(n_vocab, dim))
    for i in range(layers):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", np.ones(dim, dtype=np.float32))
        w.add_tensor(p + "attn_q.weight", mat(heads * hd, dim))
        w.add_tensor(p + "attn_k.weight", mat(kv_heads * hd, dim))
        w.add_tensor(p + "attn_v.weight", mat(kv_heads * hd, dim))
        w.add_tensor(p + "attn_output.weight", mat(dim, heads * hd))
        w.add_tensor(p + "ffn_norm.weight", np.ones(dim, dtype=np.float32))
        w.add_tensor(p + "ffn_gate.weight", mat(ff, dim))
        w.add_tensor(p + "ffn_up.weight", mat(ff, dim))
        w.add_tensor(p + "ffn_down.weight", mat(dim, ff))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--ff", type=int, default=512)
    ap.add_argument("--vocab", type=int, default=320)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=None)
    ap.add_argument("--dtype", choices=["f32", "f16"], default="f32")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tied", action="store_true", help="no output.weight: the output reuses token_embd")
    a = ap.parse_args(argv)
    build(a.out, a.layers, a.dim, a.ff, a.vocab, a.heads, a.kv_heads, a.dtype, a.seed, a.tied)


if __name__ == "__main__":
    main()
