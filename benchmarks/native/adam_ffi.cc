// A single-pass Adam step for float32 buffers, as an XLA FFI handler: the *prototype* behind
// benchmarks/bench_native.py. Not part of the jaxlearn package.
//
// Why it exists: XLA:CPU (jax 0.10) writes each output of a step in its own loop, so Adam's
// step re-reads g, m and v and moves about 10-11 float arrays per parameter instead of 7
// (read W, g, m, v; write W, m, v). This loop writes all three in one pass, in place (the
// caller aliases the outputs to the donated inputs). The formula is jaxlearn.adam's,
// operation for operation:
//   m <- m + (1 - b1) (g - m);  v <- b2 v + (1 - b2) g^2;  W <- W + (-lr_t m / (sqrt(v) + eps))
// where lr_t (the bias-corrected step) is computed by the caller.
//
// Build (bench_native.py does this): g++ -O3 -march=native -fno-math-errno -std=c++17 -shared
//   -fPIC -I$(python -c 'import jax.ffi; print(jax.ffi.include_dir())') adam_ffi.cc -o adam.so
// -fno-math-errno matters: without it std::sqrt may set errno, GCC will not vectorise the loop,
// and the kernel is 2x slower than XLA's three loops.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <thread>
#include <vector>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

void AdamRange(float* w, const float* g, float* m, float* v, int64_t lo, int64_t hi, float lr_t,
               float b1, float b2, float eps) {
  const float one_minus_b1 = 1.0f - b1;
  const float one_minus_b2 = 1.0f - b2;
  for (int64_t i = lo; i < hi; ++i) {
    const float gi = g[i];
    const float mi = m[i] + one_minus_b1 * (gi - m[i]);
    const float vi = b2 * v[i] + one_minus_b2 * (gi * gi);
    m[i] = mi;
    v[i] = vi;
    w[i] = w[i] + (-lr_t * mi / (std::sqrt(vi) + eps));
  }
}

// One call updates every leaf of a tree: the arguments are the scalars [lr_t, b1, b2, eps]
// followed by k W's, k g's, k m's and k v's; the results are k W's, k m's and k v's, aliased
// to the donated inputs (if XLA could not alias one, its input is copied first). One call for
// the whole tree matters: XLA:CPU spends about 3 us per kernel, so a per-leaf call (or XLA's
// per-leaf loops) costs milliseconds on a tree of thousands of small leaves.
ffi::Error AdamImpl(ffi::Buffer<ffi::F32> scalars, ffi::RemainingArgs args,
                    ffi::RemainingRets rets) {
  if (scalars.element_count() != 4 || args.size() % 4 != 0 || rets.size() * 4 != args.size() * 3) {
    return ffi::Error::InvalidArgument("adam_ffi: want scalars[4], 4k inputs and 3k results");
  }
  const size_t k = args.size() / 4;
  struct Leaf {
    float* w;
    const float* g;
    float* m;
    float* v;
    int64_t n;
  };
  std::vector<Leaf> leaves;
  leaves.reserve(k);
  for (size_t i = 0; i < k; ++i) {
    auto w = args.get<ffi::Buffer<ffi::F32>>(i);
    auto g = args.get<ffi::Buffer<ffi::F32>>(k + i);
    auto m = args.get<ffi::Buffer<ffi::F32>>(2 * k + i);
    auto v = args.get<ffi::Buffer<ffi::F32>>(3 * k + i);
    auto w_out = rets.get<ffi::Buffer<ffi::F32>>(i);
    auto m_out = rets.get<ffi::Buffer<ffi::F32>>(k + i);
    auto v_out = rets.get<ffi::Buffer<ffi::F32>>(2 * k + i);
    if (!w || !g || !m || !v || !w_out || !m_out || !v_out) {
      return ffi::Error::InvalidArgument("adam_ffi: every buffer must be float32");
    }
    const int64_t n = w->element_count();
    if (g->element_count() != n || m->element_count() != n || v->element_count() != n) {
      return ffi::Error::InvalidArgument("adam_ffi: W, g, m, v of a leaf must match");
    }
    float* W = (*w_out)->typed_data();
    float* M = (*m_out)->typed_data();
    float* V = (*v_out)->typed_data();
    if (W != w->typed_data()) std::copy_n(w->typed_data(), n, W);
    if (M != m->typed_data()) std::copy_n(m->typed_data(), n, M);
    if (V != v->typed_data()) std::copy_n(v->typed_data(), n, V);
    leaves.push_back({W, g->typed_data(), M, V, n});
  }
  const float* s = scalars.typed_data();
  // This machine has 2 cores: a second thread takes the second half of every leaf, unless the
  // whole tree is under 64 Ki elements, where starting a thread costs more than it saves.
  int64_t total = 0;
  for (const Leaf& l : leaves) total += l.n;
  auto run = [&](bool second_half) {
    for (const Leaf& l : leaves) {
      const int64_t half = total < (int64_t{1} << 16) ? l.n : (l.n / 2) & ~int64_t{15};
      const int64_t lo = second_half ? half : 0;
      const int64_t hi = second_half ? l.n : half;
      AdamRange(l.w, l.g, l.m, l.v, lo, hi, s[0], s[1], s[2], s[3]);
    }
  };
  if (total < (int64_t{1} << 16)) {
    run(false);
    return ffi::Error::Success();
  }
  std::thread other(run, true);
  run(false);
  other.join();
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(JaxlearnAdamF32, AdamImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()  // [lr_t, b1, b2, eps]
                                  .RemainingArgs()               // W..., g..., m..., v...
                                  .RemainingRets());             // W'..., m'..., v'...
