#include "model/kv_cache.h"

#include <cmath>
#include <cstring>

#include "formats/float16.h"
#include "formats/minifloat.h"
#include "kernels/kernels.h"

namespace qforge::model {

std::string_view KvCacheTypeName(KvCacheType t) {
  switch (t) {
    case KvCacheType::kF32: return "f32";
    case KvCacheType::kF16: return "f16";
    case KvCacheType::kBF16: return "bf16";
    case KvCacheType::kFp8E4M3: return "fp8_e4m3";
    case KvCacheType::kInt8: return "int8";
  }
  return "?";
}

std::optional<KvCacheType> KvCacheTypeFromName(std::string_view name) {
  for (KvCacheType t : {KvCacheType::kF32, KvCacheType::kF16, KvCacheType::kBF16, KvCacheType::kFp8E4M3, KvCacheType::kInt8}) {
    if (KvCacheTypeName(t) == name) return t;
  }
  return std::nullopt;
}

int KvElementBytes(KvCacheType t) {
  switch (t) {
    case KvCacheType::kF32: return 4;
    case KvCacheType::kF16:
    case KvCacheType::kBF16: return 2;
    case KvCacheType::kFp8E4M3:
    case KvCacheType::kInt8: return 1;
  }
  return 4;
}

bool KvHasScale(KvCacheType t) { return t == KvCacheType::kFp8E4M3 || t == KvCacheType::kInt8; }

int64_t KvBytesPerToken(KvCacheType t, int64_t layers, int64_t kv_heads, int64_t head_dim) {
  const int64_t per_head = head_dim * KvElementBytes(t) + (KvHasScale(t) ? 4 : 0);
  return layers * 2 * kv_heads * per_head;
}

void EncodeKvRow(KvCacheType t, const float* x, int64_t n, void* dst, float* scale) {
  switch (t) {
    case KvCacheType::kF32: std::memcpy(dst, x, static_cast<size_t>(n) * sizeof(float)); return;
    case KvCacheType::kF16: {
      auto* d = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] = FloatToHalf(x[i]);
      return;
    }
    case KvCacheType::kBF16: {
      auto* d = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] = FloatToBF16(x[i]);
      return;
    }
    case KvCacheType::kFp8E4M3:
    case KvCacheType::kInt8: {
      float amax = 0.0f;
      for (int64_t i = 0; i < n; ++i) amax = std::fmax(amax, std::fabs(x[i]));
      auto* d = static_cast<uint8_t*>(dst);
      const bool fp8 = t == KvCacheType::kFp8E4M3;
      const float s = amax / (fp8 ? formats::kE4M3Max : 127.0f);
      *scale = s;
      if (s == 0.0f) {
        std::memset(d, 0, static_cast<size_t>(n));
        return;
      }
      for (int64_t i = 0; i < n; ++i) {
        if (fp8) {
          d[i] = formats::EncodeE4M3(x[i] / s);
        } else {
          const float q = std::fmin(127.0f, std::fmax(-127.0f, std::nearbyint(x[i] / s)));
          d[i] = static_cast<uint8_t>(static_cast<int8_t>(q));
        }
      }
      return;
    }
  }
}

void DecodeKvRow(KvCacheType t, const void* src, float scale, int64_t n, float* out) {
  switch (t) {
    case KvCacheType::kF32: std::memcpy(out, src, static_cast<size_t>(n) * sizeof(float)); return;
    // Exact widening conversions: the SIMD kernels give the same values as the scalar ones.
    case KvCacheType::kF16: kernels::Kernels().f16_to_f32(static_cast<const uint16_t*>(src), out, n); return;
    case KvCacheType::kBF16: kernels::Kernels().bf16_to_f32(static_cast<const uint16_t*>(src), out, n); return;
    case KvCacheType::kFp8E4M3: {
      const auto* s = static_cast<const uint8_t*>(src);
      for (int64_t i = 0; i < n; ++i) out[i] = formats::DecodeE4M3(s[i]) * scale;
      return;
    }
    case KvCacheType::kInt8: {
      const auto* s = static_cast<const int8_t*>(src);
      for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(s[i]) * scale;
      return;
    }
  }
}

}  // namespace qforge::model
