// Single-pass CPU kernels for jaxlearn's update rules, as XLA FFI handlers. README.md beside this
// file says how they fit together and how to add one.
//
// Why: XLA:CPU writes each output of a fused optimizer step in its own loop, so Adam's step
// re-reads g, m and v and moves about 10-11 arrays per parameter instead of the 7 it needs
// (read W, g, m, v; write W, m, v). A kernel makes one pass that reads W, g and the state once
// and writes W and the state once, in place (the Python side aliases every output to its
// donated input), vectorised, on XLA's own intra-op thread pool.
//
// Every kernel is called the same way and updates a group of leaves in one call:
//   args:    scalars (f32, or f64 for f64 leaves; R rows of the kernel's scalars, row r for the
//            r-th of R equal parts of every leaf: R > 1 under vmap over configurations),
//            W_0..W_{k-1}, g_0..g_{k-1},
//            then each state slot's k leaves (as many slots as the kernel's row says);
//   results: W'_0..W'_{k-1}, then each slot's k new leaves (aliased to the inputs).
// Within a leaf, W, g and the slots share one storage type (f32, f64, bf16 or f16); leaves of
// one call may differ. The Python side (_dispatch.py) only calls a kernel for the cases it
// covers and keeps the XLA path for everything else.
//
// The arithmetic is the rules' Python `leaf` functions operation for operation, including the
// fused multiply-adds XLA:CPU's LLVM backend forms on a machine with FMA (see loops.inc), so on
// such a machine the results are bit-identical to the jitted XLA path.

// A Python extension module too (an empty one, limited API), so that tools that import every
// module of the package (pkgutil, Sphinx, pydoc) can import this one; jaxlearn itself opens it
// with ctypes (_library.py).
#define PY_SSIZE_T_CLEAN
#define Py_LIMITED_API 0x030A0000
#include <Python.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "storage.h"
#include "xla/ffi/api/ffi.h"

// ---- the table: the one declaration of each kernel ----
//
// One row per kernel: its name (what a rule's descriptor names in `ElementwiseRule.native`; the
// FFI target is "jaxlearn_<name>_step"), its loop in loops.inc, its number of state slots, and
// its scalars in the order the loop reads them (names of the rule's `scalars(count)` dict). The
// Python side reads this table from the library (JaxlearnKernelTable below) and checks each rule
// against it; nothing else restates it.
#define JAXLEARN_KERNELS(X)                \
  X(sgd, SgdLoop, 0, "lr")                 \
  X(momentum, MomentumLoop, 1, "lr alpha") \
  X(nesterov, NesterovLoop, 1, "lr alpha") \
  X(adagrad, AdagradLoop, 1, "lr eps")     \
  X(rmsprop, RmspropLoop, 1, "lr rho eps") \
  X(adam, AdamLoop, 2, "lr_t b1 b2 eps")

namespace ffi = xla::ffi;

namespace jaxlearn_native {
namespace {

#define JL_ID(NAME, LOOP, SLOTS, SCALARS) kKernel_##NAME,
enum KernelId { JAXLEARN_KERNELS(JL_ID) kNumKernels };
#undef JL_ID

constexpr int CountWords(const char* s) {
  int n = 0;
  for (bool in_word = false; *s; ++s) {
    const bool space = *s == ' ';
    n += !space && !in_word;
    in_word = !space;
  }
  return n;
}

struct KernelRow {
  const char* name;
  int slots;
  const char* scalars;
  int num_scalars;
};

#define JL_ROW(NAME, LOOP, SLOTS, SCALARS) {#NAME, SLOTS, SCALARS, CountWords(SCALARS)},
constexpr KernelRow kKernels[kNumKernels] = {JAXLEARN_KERNELS(JL_ROW)};
#undef JL_ROW

// One kernel's loop over elements [lo, hi) of one leaf, in place.
using LoopFn = void (*)(const void* scalars, void* w, const void* g, void* const* slots,
                        int64_t lo, int64_t hi);

// ---- the loops, once per instruction set ----

namespace isa_base {
#if defined(__aarch64__) || defined(_M_ARM64)
#define JL_FMA 1  // every AArch64 core has FMA, and XLA contracts there too
#else
#define JL_FMA 0
#endif
#include "loops.inc"
#undef JL_FMA
}  // namespace isa_base

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define JL_HAVE_AVX2_FMA 1
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
namespace isa_avx2 {
#define JL_FMA 1
#include "loops.inc"
#undef JL_FMA
}  // namespace isa_avx2
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif

struct Isa {
  const LoopFn (*table)[kNumKinds];
  const char* name;
  bool fma;
};

// Chosen once: AVX2 + FMA where the CPU has both (the same contraction as XLA:CPU there),
// else the baseline build (SSE2 on x86-64, no contraction: XLA does not contract without FMA).
const Isa& ChosenIsa() {
  static const Isa isa = [] {
#if defined(JL_HAVE_AVX2_FMA)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
      return Isa{isa_avx2::kTable, "x86-64 AVX2+FMA", true};
    }
    return Isa{isa_base::kTable, "x86-64 baseline (SSE2)", false};
#elif defined(__aarch64__) || defined(_M_ARM64)
    return Isa{isa_base::kTable, "AArch64 NEON+FMA", true};
#else
    return Isa{isa_base::kTable, "portable C++", false};
#endif
  }();
  return isa;
}

// ---- one call's work, split into chunks over the leaves laid end to end ----

struct Leaf {
  LoopFn fn;
  void* w;
  const void* g;
  void* slots[2];
  int64_t begin;  // offset of this leaf in the concatenation of the call's leaves
  int64_t n;
};

// 64 Ki elements (256 KiB of f32) per chunk: large enough that claiming one (an atomic add) is
// free, small enough that two to a few dozen threads balance on a ResNet-sized tree. Measured
// against 16 Ki and 256 Ki chunks, one contiguous range per thread, AVX-512 loops, chunks down to
// 4 Ki for calls of small leaves, and a prefetch of each next leaf: on one 25 M leaf, on
// ResNet-50's 161 leaves, on 2,000 leaves of 1,000 and in the book's training step, none was
// faster beyond the run-to-run noise, and the prefetch was slower on leaves in cache.
constexpr int64_t kChunk = int64_t{1} << 16;

// Shared by the calling thread and the tasks it schedules. Held by shared_ptr: a task that the
// pool starts after all chunks are done touches nothing but this object, which it keeps alive.
struct Job : std::enable_shared_from_this<Job> {
  // rows x (the kernel's scalars): row r's scalars apply to the r-th of `rows` equal, contiguous
  // parts of every leaf (a vmap over configurations: leaves are (rows, ...) row-major).
  const char* scalars = nullptr;
  int64_t rows = 1;
  size_t row_bytes = 0;
  std::vector<Leaf> leaves;
  int64_t total = 0;
  int64_t num_chunks = 0;
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> done{0};
  std::mutex mu;
  std::condition_variable all_done;

  void RunChunk(int64_t c) const {
    const int64_t lo = c * kChunk;
    const int64_t hi = std::min(total, lo + kChunk);
    // The first leaf that ends after lo.
    auto it = std::upper_bound(leaves.begin(), leaves.end(), lo,
                               [](int64_t x, const Leaf& l) { return x < l.begin + l.n; });
    for (; it != leaves.end() && it->begin < hi; ++it) {
      const int64_t a = std::max(lo, it->begin) - it->begin;
      const int64_t b = std::min(hi, it->begin + it->n) - it->begin;
      if (a >= b) continue;
      if (rows == 1) {
        it->fn(scalars, it->w, it->g, it->slots, a, b);
        continue;
      }
      const int64_t row_len = it->n / rows;
      for (int64_t r = a / row_len; r * row_len < b; ++r) {
        const int64_t ra = std::max(a, r * row_len), rb = std::min(b, (r + 1) * row_len);
        it->fn(scalars + r * row_bytes, it->w, it->g, it->slots, ra, rb);
      }
    }
  }

  void Work() {
    for (;;) {
      const int64_t c = next.fetch_add(1, std::memory_order_relaxed);
      if (c >= num_chunks) return;
      RunChunk(c);
      if (done.fetch_add(1, std::memory_order_acq_rel) + 1 == num_chunks) {
        std::lock_guard<std::mutex> lock(mu);
        all_done.notify_all();
      }
    }
  }

  // Every chunk, on the calling thread and one task per other pool thread (they claim chunks
  // with an atomic counter: a late or descheduled thread only delays the chunk it holds). A
  // call of one chunk runs inline. Called through a shared_ptr that the tasks copy.
  void Run(ffi::ThreadPool pool) {
    const int64_t threads = std::max<int64_t>(pool.num_threads(), 1);
    num_chunks = (total + kChunk - 1) / kChunk;
    if (num_chunks <= 1) {
      if (num_chunks == 1) RunChunk(0);
      return;
    }
    // The calling thread works too, so schedule one task fewer than the pool has threads (if
    // the pool cannot run a task it runs inline, which is still correct).
    const int64_t helpers = std::min(threads, num_chunks) - 1;
    for (int64_t t = 0; t < helpers; ++t) {
      pool.Schedule([self = shared_from_this()] { self->Work(); });
    }
    Work();
    std::unique_lock<std::mutex> lock(mu);
    all_done.wait(lock, [&] { return done.load(std::memory_order_acquire) == num_chunks; });
  }
};

int KindOf(ffi::DataType t) {
  switch (t) {
    case ffi::DataType::F32:
      return kF32;
    case ffi::DataType::F64:
      return kF64;
    case ffi::DataType::BF16:
      return kBF16;
    case ffi::DataType::F16:
      return kF16;
    default:
      return -1;
  }
}

size_t ByteWidth(int kind) { return kind == kF64 ? 8 : (kind == kF32 ? 4 : 2); }

// The handler every kernel shares: check the call against the kernel's row, lay its leaves end
// to end, run the loop over them.
ffi::Error Step(KernelId id, ffi::ThreadPool pool, ffi::AnyBuffer scalars,
                ffi::RemainingArgs args, ffi::RemainingRets rets) {
  const KernelRow& row = kKernels[id];
  const int ns = row.slots;
  if (args.size() % (2 + ns) != 0) {
    return ffi::Error::InvalidArgument("jaxlearn native: wrong number of arguments");
  }
  const size_t k = args.size() / (2 + ns);
  if (rets.size() != k * (1 + ns)) {
    return ffi::Error::InvalidArgument("jaxlearn native: wrong number of results");
  }
  const int64_t count = static_cast<int64_t>(scalars.element_count());
  const bool f64_scalars = scalars.element_type() == ffi::DataType::F64;
  if (count == 0 || count % row.num_scalars != 0 ||
      (scalars.element_type() != ffi::DataType::F32 && !f64_scalars)) {
    return ffi::Error::InvalidArgument("jaxlearn native: wrong scalars (count or dtype)");
  }
  const Isa& isa = ChosenIsa();
  auto job = std::make_shared<Job>();
  job->scalars = static_cast<const char*>(scalars.untyped_data());
  job->rows = count / row.num_scalars;
  job->row_bytes = row.num_scalars * (f64_scalars ? 8 : 4);
  job->leaves.reserve(k);
  for (size_t i = 0; i < k; ++i) {
    auto w = args.get<ffi::AnyBuffer>(i);
    auto g = args.get<ffi::AnyBuffer>(k + i);
    auto w_out = rets.get<ffi::AnyBuffer>(i);
    if (!w || !g || !w_out) {
      return ffi::Error::InvalidArgument("jaxlearn native: bad W/g buffer");
    }
    const ffi::DataType type = w->element_type();
    const int kind = KindOf(type);
    const int64_t n = static_cast<int64_t>(w->element_count());
    if (kind < 0 || g->element_type() != type || f64_scalars != (kind == kF64) ||
        static_cast<int64_t>(g->element_count()) != n || n % job->rows != 0) {
      return ffi::Error::InvalidArgument(
          "jaxlearn native: W, g and scalars must match (types, sizes, scalar rows)");
    }
    Leaf leaf{isa.table[id][kind], (*w_out)->untyped_data(), g->untyped_data(), {}, 0, n};
    // The outputs are aliased to the inputs, so these copies never run; they keep the handler
    // correct if a caller does not alias.
    if (leaf.w != w->untyped_data()) {
      std::memcpy(leaf.w, w->untyped_data(), n * ByteWidth(kind));
    }
    for (int j = 0; j < ns; ++j) {
      auto s = args.get<ffi::AnyBuffer>((2 + j) * k + i);
      auto s_out = rets.get<ffi::AnyBuffer>((1 + j) * k + i);
      if (!s || !s_out || s->element_type() != type ||
          static_cast<int64_t>(s->element_count()) != n) {
        return ffi::Error::InvalidArgument("jaxlearn native: state leaves must match W");
      }
      leaf.slots[j] = (*s_out)->untyped_data();
      if (leaf.slots[j] != s->untyped_data()) {
        std::memcpy(leaf.slots[j], s->untyped_data(), n * ByteWidth(kind));
      }
    }
    leaf.begin = job->total;
    job->total += n;
    if (n > 0) job->leaves.push_back(leaf);
  }
  job->Run(pool);
  return ffi::Error::Success();
}

template <int kId>
ffi::Error StepOf(ffi::ThreadPool pool, ffi::AnyBuffer scalars, ffi::RemainingArgs args,
                  ffi::RemainingRets rets) {
  return Step(static_cast<KernelId>(kId), pool, scalars, args, rets);
}

template <int kId>
XLA_FFI_Error* Handler(XLA_FFI_CallFrame* call_frame) {
  XLA_FFI_DEFINE_HANDLER(handler, StepOf<kId>,
                         ffi::Ffi::Bind()
                             .Ctx<ffi::ThreadPool>()
                             .Arg<ffi::AnyBuffer>()
                             .RemainingArgs()
                             .RemainingRets());
  return (*handler)(call_frame);
}

#define JL_HANDLER(NAME, LOOP, SLOTS, SCALARS) &Handler<kKernel_##NAME>,
constexpr XLA_FFI_Handler* kHandlers[kNumKernels] = {JAXLEARN_KERNELS(JL_HANDLER)};
#undef JL_HANDLER

}  // namespace
}  // namespace jaxlearn_native

// ---- what the library exports: the loader (_library.py) reads these four with ctypes ----

// The table, one line per kernel: "<name> <slots> <scalar> <scalar> ...".
extern "C" const char* JaxlearnKernelTable() {
  static const std::string table = [] {
    std::string out;
    for (const auto& row : jaxlearn_native::kKernels) {
      out += std::string(row.name) + " " + std::to_string(row.slots) + " " + row.scalars + "\n";
    }
    return out;
  }();
  return table.c_str();
}

// The XLA FFI handler of the table's i-th kernel (nullptr past the end).
extern "C" void* JaxlearnKernelHandler(int i) {
  if (i < 0 || i >= jaxlearn_native::kNumKernels) return nullptr;
  return reinterpret_cast<void*>(jaxlearn_native::kHandlers[i]);
}

// The f32 loop of the table's i-th kernel, of the chosen instruction set, over n elements in
// place, on the calling thread (no XLA): what the formula probe (_dispatch.py) runs the rule's
// `leaf` against. `slots` holds the kernel's state slots (as many as its row says). Returns 0,
// or -1 for an i past the table.
extern "C" int JaxlearnKernelRunF32(int i, const float* scalars, float* w, const float* g,
                                    float* const* slots, int64_t n) {
  using namespace jaxlearn_native;
  if (i < 0 || i >= kNumKernels) return -1;
  void* st[2] = {nullptr, nullptr};
  for (int j = 0; j < kKernels[i].slots; ++j) st[j] = slots[j];
  ChosenIsa().table[i][kF32](scalars, w, g, st, 0, n);
  return 0;
}

// "<isa>;fma=<0|1>": what jaxlearn.optim.native_status() reports. `fma` says whether the loops
// contract as XLA:CPU does on an FMA machine (then results are bit-identical).
extern "C" const char* JaxlearnKernelsInfo() {
  static const std::string info = [] {
    const auto& isa = jaxlearn_native::ChosenIsa();
    return std::string(isa.name) + ";fma=" + (isa.fma ? "1" : "0");
  }();
  return info.c_str();
}

static struct PyModuleDef kModule = {
    PyModuleDef_HEAD_INIT, "_kernels",
    "jaxlearn's compiled optimizer kernels: XLA FFI handlers, registered by "
    "jaxlearn.optim.native (this module itself defines nothing).",
    -1, nullptr, nullptr, nullptr, nullptr, nullptr};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&kModule); }
