"""A tiny random model in onnxruntime-genai's format, built in about a second (no torch, no download).

What onnxruntime-genai loads (``og.Model(dir)``) is a folder with:
- ``model.onnx``: a decoder with genai's llama I/O names. Here: a Gather embedding and a MatMul to the
  logits; per layer the new key/value is the embedding reshaped to [batch, kv_heads, seq, head_size] and
  concatenated onto the past one (``past_present_share_buffer: false``: genai feeds the present back as past).
  The EOS logit carries a large negative bias, so greedy and sampled generation always run to ``max_length``
  and finish reasons are deterministic.
- ``tokenizer.json``: a byte-level BPE trained on the spot with ``tokenizers``.
- ``tokenizer_config.json``: special tokens and a chat template (what ``apply_chat_template`` renders).
- ``genai_config.json``: model type ``llama``, the I/O names above, the context length.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

CONTEXT_LENGTH = 256
HIDDEN = 16
KV_HEADS = 2
HEAD_SIZE = HIDDEN // KV_HEADS
LAYERS = 2
SPECIAL = ("<pad>", "<s>", "</s>", "<|user|>", "<|assistant|>", "<|system|>", "<|end|>")
PAD, BOS, EOS = 0, 1, 2
CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>{{ message['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
CORPUS = [
    "hello there edge box, how are you today?",
    "The quick brown fox jumps over the lazy dog.",
    "Small language models run on CPUs at the edge with ONNX Runtime GenAI.",
    "0123456789 !?.,;:-_()[]{}'\" abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ",
] * 8


def _tokenizer(out: Path) -> int:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=list(SPECIAL),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS, trainer=trainer)
    tok.save(str(out / "tokenizer.json"))
    (out / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<s>", "eos_token": "</s>",
        "pad_token": "<pad>", "unk_token": None, "add_bos_token": False, "add_eos_token": False,
        "model_max_length": CONTEXT_LENGTH, "chat_template": CHAT_TEMPLATE,
    }))
    return tok.get_vocab_size()


def _graph(vocab: int, seed: int) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    bias = np.zeros(vocab, dtype=np.float32)
    bias[[PAD, BOS, EOS]] = -1e4  # never end early: every generation runs to max_length
    inits = [
        numpy_helper.from_array(rng.standard_normal((vocab, HIDDEN)).astype(np.float32), "embed"),
        numpy_helper.from_array(rng.standard_normal((HIDDEN, vocab)).astype(np.float32), "lm_head"),
        numpy_helper.from_array(bias, "lm_bias"),
        numpy_helper.from_array(np.array([0, 0, KV_HEADS, HEAD_SIZE], dtype=np.int64), "kv_shape"),
    ]
    nodes = [
        helper.make_node("Gather", ["embed", "input_ids"], ["hidden"]),
        helper.make_node("MatMul", ["hidden", "lm_head"], ["scores"]),
        helper.make_node("Add", ["scores", "lm_bias"], ["logits"]),
        helper.make_node("Reshape", ["hidden", "kv_shape"], ["kv_bshd"]),
        helper.make_node("Transpose", ["kv_bshd"], ["kv_new"], perm=[0, 2, 1, 3]),
    ]
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
              helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "total"])]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "seq", vocab])]
    kv = ["batch", KV_HEADS, "past", HEAD_SIZE]
    for layer in range(LAYERS):
        for kind in ("key", "value"):
            past, present = f"past_key_values.{layer}.{kind}", f"present.{layer}.{kind}"
            inputs.append(helper.make_tensor_value_info(past, TensorProto.FLOAT, kv))
            outputs.append(helper.make_tensor_value_info(present, TensorProto.FLOAT, ["batch", KV_HEADS, "total", HEAD_SIZE]))
            nodes.append(helper.make_node("Concat", [past, "kv_new"], [present], axis=2))
    graph = helper.make_graph(nodes, "tiny-llama", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    return model


def _genai_config(vocab: int) -> dict:
    return {
        "model": {
            "type": "llama", "vocab_size": vocab, "context_length": CONTEXT_LENGTH,
            "bos_token_id": BOS, "eos_token_id": EOS, "pad_token_id": PAD,
            "decoder": {
                "filename": "model.onnx", "session_options": {"log_id": "tiny", "provider_options": []},
                "hidden_size": HIDDEN, "head_size": HEAD_SIZE, "num_attention_heads": KV_HEADS,
                "num_key_value_heads": KV_HEADS, "num_hidden_layers": LAYERS,
                "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask",
                           "past_key_names": "past_key_values.%d.key", "past_value_names": "past_key_values.%d.value"},
                "outputs": {"logits": "logits", "present_key_names": "present.%d.key",
                            "present_value_names": "present.%d.value"},
            },
        },
        "search": {"max_length": CONTEXT_LENGTH, "do_sample": False, "past_present_share_buffer": False,
                   "num_beams": 1, "num_return_sequences": 1, "top_k": 1, "top_p": 1.0, "temperature": 1.0,
                   "min_length": 0, "repetition_penalty": 1.0, "length_penalty": 1.0, "early_stopping": True,
                   "no_repeat_ngram_size": 0, "diversity_penalty": 0.0},
    }


def build_tiny_model(out: Path, seed: int = 0) -> Path:
    """Write a loadable onnxruntime-genai model folder to ``out`` and return it."""
    out.mkdir(parents=True, exist_ok=True)
    vocab = _tokenizer(out)
    onnx.save(_graph(vocab, seed), str(out / "model.onnx"))
    (out / "genai_config.json").write_text(json.dumps(_genai_config(vocab), indent=1))
    return out
