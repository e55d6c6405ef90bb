// A Hugging Face model directory seen as the GGUF llama.cpp's convert_hf_to_gguf.py would make of it
// (quant/gguf_source.h), for `qforge quantize DIR --format gguf --type T`. The reference is the
// converter and gguf-py of llama.cpp as vendored by llama-cpp-python 0.3.36 (conversion/base.py,
// llama.py, qwen.py, gemma.py; gguf-py/gguf/vocab.py SpecialVocab).
//
// Architectures: LlamaForCausalLM -> "llama", Qwen2ForCausalLM -> "qwen2", Gemma3ForCausalLM /
// gemma3_text -> "gemma3". The config is read by io::ParseHfConfig (unknown keys refused there).
//
// Key/values, in the converter's order: general.architecture, general.type = "model", general.name
// (the directory's name; the converter's model-card fields — size label, license, tags — are not
// written: they do not change the arithmetic), then set_gguf_parameters' keys:
//   <arch>.block_count, context_length, embedding_length, feed_forward_length, attention.head_count,
//   attention.head_count_kv, [rope.scaling.type "linear" + rope.scaling.factor], rope.freq_base,
//   [gemma3: rope.freq_base_swa], attention.layer_norm_rms_epsilon, [attention.key_length /
//   value_length when transformers' config has head_dim: always for llama and gemma3, for qwen2 when
//   config.json names it], general.file_type; llama adds vocab_size and rope.dimension_count;
//   gemma3 adds [final_logit_softcapping] and attention.sliding_window;
// then general.quantization_version = 2 and the tokenizer:
//   - SentencePiece (tokenizer.model; llama always, qwen2 when present, gemma3 always):
//     tokenizer.ggml.model "llama", pre "default", tokens / scores / token_type of
//     _create_vocab_sentencepiece (padded to vocab_size with "[PADi]", added_tokens.json and
//     tokenizer_config.json's added_tokens_decoder applied), gemma3: add_space_prefix = false;
//   - byte-level BPE (tokenizer.json; qwen2 without tokenizer.model): model "gpt2", pre chosen as the
//     converter does, by the SHA-256 of the ids of its check text (qforge's own tokenizer encodes it);
//     only the hashes the converter maps to "qwen2" are accepted; tokens / token_type of get_vocab_base,
//     merges;
//   - both: SpecialVocab's special ids (tokenizer.json added tokens named by tokenizer_config.json,
//     then config.json's *_token_id), add_bos/eos/sep_token, chat template, normalizer flags.
//
// Tensors: llama.cpp's names (io::GgufNameFromCanonical); 1-D tensors and *_norm.weight as F32, 2-D
// tensors in the checkpoint's dtype (f32 / f16 / bf16 -> F32 / F16 / BF16), dims in GGUF order
// (ne[0] = in_features). Values as the converter computes them: llama's q/k rows permuted
// (LlamaModel.permute: reshape(n_head, 2, rows / n_head / 2, cols).swapaxes(1, 2); k with n_head_kv),
// gemma3's *norm.weight stored as 1 + w (in f32 from f32 or bf16; rounded to f16 first from f16, as
// torch adds in the tensor's dtype). No output.weight when the checkpoint has no lm_head.weight (tied).
// (The converter also cuts gemma3's embedding to len(tokens) rows; tokens are padded to vocab_size and
// io::ModelSource requires a [vocab_size, hidden] embedding, so the cut never removes a row.)
// Note: for an all-f32 checkpoint the converter's default --outtype (auto) writes F16; this source is
// the `--outtype f32` file (the checkpoint's values, not rounded to f16 first).
//
// Refused by name (never guessed): other architectures (Mistral included), quantized checkpoints
// (quantization_config), RoPE scaling other than linear (dynamic / llama3 / yarn), sliding-window
// layouts llama.cpp would not reproduce (llama / qwen2 sliding layers; a gemma3 layer pattern other than
// llama.cpp's every-6th-layer-global, query_pre_attn_scalar other than llama.cpp's), attention logit
// soft-capping, a llama or gemma3 directory without tokenizer.model, an unrecognised BPE pre-tokenizer,
// tensors without a llama.cpp name, dtypes other than f32 / f16 / bf16, CodeLlama's and Granite's
// vocabulary special cases (vocab 32016 / 49152), sentence-transformers pooling (modules.json), added
// tokens that tokenizer.json and tokenizer_config.json describe differently.
//
// file_hashes(): every file the conversion reads (config.json, the safetensors files and index, the
// tokenizer files), sorted by name.
//
// Thread safety: immutable after OpenHfGgufSource; ReadRowsF32 / RawBytes are const and thread-safe.
// Files: gguf_from_hf.cc (tensors, architecture keys, the checks), gguf_from_hf_vocab.{h,cc} (the
// tokenizer keys).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/result.h"
#include "quant/gguf_source.h"

namespace qforge::quant {

Result<std::unique_ptr<GgufSource>> OpenHfGgufSource(const std::filesystem::path& dir);

// The text llama.cpp's converter encodes to recognise a BPE pre-tokenizer (get_vocab_base_pre's chktxt).
std::string_view BpePreCheckText();
// Its identification: SHA-256 of Python's str() of the id list ("[1, 2, 3]"), lowercase hex.
std::string BpePreCheckHash(std::span<const int32_t> ids);

}  // namespace qforge::quant
