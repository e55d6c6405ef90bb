// Tensor views: a pointer, a dtype, a shape and strides (in elements). Views never own memory.
//
// Conventions used everywhere in qforge:
//  - weights of a linear layer are W[out, in], row-major (stride {in, 1}); y = x W^T;
//  - quantization groups run along the input dimension (a row), so group g of row r covers
//    W[r, g*G : min((g+1)*G, in)];
//  - activations are X[tokens, features], row-major.
// Only plain storage dtypes (FormatKind::kStorage) have element strides; packed formats are held
// by formats::QuantizedTensor instead.
#pragma once

#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace qforge {

inline constexpr int kMaxDims = 4;

struct Shape {
  std::array<int64_t, kMaxDims> dims{};
  int rank = 0;

  Shape() = default;
  Shape(std::initializer_list<int64_t> d) {
    assert(d.size() <= kMaxDims);
    for (int64_t v : d) dims[rank++] = v;
  }
  int64_t operator[](int i) const { return dims[i]; }
  int64_t& operator[](int i) { return dims[i]; }
  int64_t NumElements() const {
    int64_t n = 1;
    for (int i = 0; i < rank; ++i) n *= dims[i];
    return n;
  }
  bool operator==(const Shape& o) const {
    if (rank != o.rank) return false;
    for (int i = 0; i < rank; ++i)
      if (dims[i] != o.dims[i]) return false;
    return true;
  }
  std::string ToString() const;  // "[4096, 11008]"
};

template <typename Ptr>
struct BasicTensorView {
  Ptr data = nullptr;
  DType dtype = DType::kF32;
  Shape shape;
  std::array<int64_t, kMaxDims> strides{};  // in elements

  static BasicTensorView Contiguous(Ptr data, DType dtype, Shape shape) {
    BasicTensorView v;
    v.data = data;
    v.dtype = dtype;
    v.shape = shape;
    int64_t s = 1;
    for (int i = shape.rank - 1; i >= 0; --i) {
      v.strides[i] = s;
      s *= shape.dims[i];
    }
    return v;
  }
  int rank() const { return shape.rank; }
  int64_t dim(int i) const { return shape.dims[i]; }
  int64_t NumElements() const { return shape.NumElements(); }
  bool IsContiguous() const {
    int64_t s = 1;
    for (int i = shape.rank - 1; i >= 0; --i) {
      if (shape.dims[i] != 1 && strides[i] != s) return false;
      s *= shape.dims[i];
    }
    return true;
  }
  // Typed pointer to the element at a 2-D index (plain storage dtypes only).
  template <typename T>
  auto* At(int64_t r, int64_t c) const {
    using Elem = std::conditional_t<std::is_const_v<std::remove_pointer_t<Ptr>>, const T, T>;
    return reinterpret_cast<Elem*>(data) + r * strides[0] + c * strides[1];
  }
};

using TensorView = BasicTensorView<const void*>;
using MutableTensorView = BasicTensorView<void*>;

// 2-D f32 matrix views used by formats and kernels: rows x cols with a row stride (elements).
struct MatrixF32 {
  const float* data;
  int64_t rows, cols, stride;
  const float* Row(int64_t r) const { return data + r * stride; }
};
struct MutableMatrixF32 {
  float* data;
  int64_t rows, cols, stride;
  float* Row(int64_t r) const { return data + r * stride; }
};

// An owning f32 tensor for tests, tools and small buffers.
struct TensorF32 {
  Shape shape;
  std::vector<float> values;

  TensorF32() = default;
  explicit TensorF32(Shape s) : shape(s), values(static_cast<size_t>(s.NumElements())) {}
  int64_t rows() const { return shape.rank >= 2 ? shape.dims[0] : 1; }
  int64_t cols() const { return shape.rank >= 2 ? shape.dims[1] : (shape.rank == 1 ? shape.dims[0] : 1); }
  MatrixF32 matrix() const { return {values.data(), rows(), cols(), cols()}; }
  MutableMatrixF32 mutable_matrix() { return {values.data(), rows(), cols(), cols()}; }
  TensorView view() const { return TensorView::Contiguous(values.data(), DType::kF32, shape); }
};

}  // namespace qforge
