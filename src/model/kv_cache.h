// The storage type of a Session's KV cache (`--kv-cache` of generate, ppl, eval and compare).
//
//   f32       4 bytes per element: the exact cache (the default; bit-identical to before this option);
//   f16, bf16 2 bytes: each element rounded to nearest even;
//   fp8_e4m3  1 byte + one f32 scale per (position, kv head) for K and for V: s = max|row| / 448 over
//             the head's head_dim values, codes E4M3(x / s) rounded to nearest even (an all-zero row
//             stores s = 0 and zero codes);
//   int8      1 byte + the same per-(position, kv head) f32 scale: s = max|row| / 127, codes
//             rint(x / s) in [-127, 127].
// The scale is per token and head, computed when the token is written (no calibration): finer than
// vLLM's per-tensor k_scale / v_scale, which default to 1.0 when a checkpoint carries none. Rows are
// decoded to f32 when attention reads them, so attention arithmetic is otherwise unchanged.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace qforge::model {

enum class KvCacheType : uint8_t { kF32, kF16, kBF16, kFp8E4M3, kInt8 };

std::string_view KvCacheTypeName(KvCacheType t);  // "f32", "f16", "bf16", "fp8_e4m3", "int8"
std::optional<KvCacheType> KvCacheTypeFromName(std::string_view name);
// Bytes of one element, and whether rows carry a scale.
int KvElementBytes(KvCacheType t);
bool KvHasScale(KvCacheType t);
// Bytes the cache holds per token: layers x 2 (K and V) x (kv_dim elements + kv_heads scales).
int64_t KvBytesPerToken(KvCacheType t, int64_t layers, int64_t kv_heads, int64_t head_dim);

// One row (head_dim values of one position and kv head): encode into `dst` (KvElementBytes each) and
// its scale (when KvHasScale), or decode back to f32. Deterministic, pure.
void EncodeKvRow(KvCacheType t, const float* x, int64_t n, void* dst, float* scale);
void DecodeKvRow(KvCacheType t, const void* src, float scale, int64_t n, float* out);

}  // namespace qforge::model
