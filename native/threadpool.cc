// The persistent thread pool behind tp::parallel_for: workers are created once, poll briefly after a job
// (back-to-back kernels start in ~1 µs), then park. Ranges are claimed, not assigned: the caller runs those
// no worker has picked up, so a worker parked or descheduled when a job starts never delays it, only misses it.
#include "common.h"
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TP_PAUSE() _mm_pause()
#else
#define TP_PAUSE() std::this_thread::yield()
#endif

namespace {

constexpr auto kSpin = std::chrono::microseconds(500);  // how long an idle worker polls before parking
constexpr int kIdxBits = 20;                             // ticket = job id << kIdxBits | next range index
constexpr uint64_t kIdxMask = (uint64_t{1} << kIdxBits) - 1;

thread_local bool tl_in_pool = false;  // a nested parallel_for (from inside a job) runs inline

using Fn = std::function<void(int64_t, int64_t)>;

struct Pool {
  int n = 1;                        // threads including the caller
  std::mutex call;                  // one job at a time; a concurrent caller runs its work inline
  std::mutex m;                     // guards parking only
  std::condition_variable cv;
  std::atomic<uint64_t> ticket{0};  // claiming a range = CAS of the index; a new job bumps the id
  std::atomic<int> done{0};         // ranges finished in the current job
  // Job fields: written before the ticket is published, stable until every range has finished.
  std::atomic<const Fn*> fn{nullptr};
  std::atomic<int64_t> total{0};
  std::atomic<int> ranges{0};
  uint64_t job = 0;                 // caller side: id of the latest job

  // Claims and runs ranges of job `id` until none is left.
  void drain(uint64_t id) {
    for (;;) {
      uint64_t t = ticket.load(std::memory_order_acquire);
      if ((t >> kIdxBits) != id) return;
      const Fn* f = fn.load(std::memory_order_relaxed);
      const int64_t tot = total.load(std::memory_order_relaxed);
      const int r = ranges.load(std::memory_order_relaxed);
      const int i = static_cast<int>(t & kIdxMask);
      if (i >= r) return;
      // A successful CAS proves job `id` was still unfinished, so the fields read above were its own.
      if (!ticket.compare_exchange_weak(t, t + 1, std::memory_order_acq_rel)) continue;
      const int64_t b = tot * i / r, e = tot * (i + 1) / r;
      if (b < e) (*f)(b, e);
      done.fetch_add(1, std::memory_order_acq_rel);
    }
  }

  void worker() {
    tl_in_pool = true;
    uint64_t seen = 0;
    for (;;) {
      auto id = [&] { return ticket.load(std::memory_order_acquire) >> kIdxBits; };
      auto until = std::chrono::steady_clock::now() + kSpin;
      for (int k = 0; id() == seen; ++k) {
        // Pause-poll first, then poll with yields so a caller queued on this CPU can run.
        if (k < 256) TP_PAUSE();
        else std::this_thread::yield();
        if ((k & 15) == 15 && std::chrono::steady_clock::now() > until) {
          std::unique_lock<std::mutex> lk(m);
          cv.wait(lk, [&] { return id() != seen; });
        }
      }
      seen = id();
      drain(seen);
    }
  }

  static int default_threads() {
    if (const char* env = std::getenv("TESSERA_THREADS"))
      if (int want = std::atoi(env); want > 0) return want;
#if defined(__linux__)
    cpu_set_t set;  // respects taskset / container CPU affinity, unlike hardware_concurrency
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
#endif
    return std::max(1u, std::thread::hardware_concurrency());
  }

  Pool() : n(std::min<int>(default_threads(), kIdxMask)) {
    // Detached on purpose: the pool lives for the whole process and must not block exit.
    for (int i = 1; i < n; ++i) std::thread([this] { worker(); }).detach();
  }
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: parked workers still reference it at exit
  return *p;
}

}  // namespace

namespace tp {

int num_threads() { return pool().n; }

void parallel_for(int64_t n, int64_t min_per_thread, const Fn& fn) {
  if (n <= 0) return;
  Pool& P = pool();
  const int64_t cap = min_per_thread > 0 ? n / min_per_thread : n;
  const int ranges = static_cast<int>(std::min<int64_t>(cap, P.n));
  if (ranges <= 1 || tl_in_pool) { fn(0, n); return; }
  std::unique_lock<std::mutex> busy(P.call, std::try_to_lock);
  if (!busy.owns_lock()) { fn(0, n); return; }

  P.fn.store(&fn, std::memory_order_relaxed);
  P.total.store(n, std::memory_order_relaxed);
  P.ranges.store(ranges, std::memory_order_relaxed);
  P.done.store(0, std::memory_order_relaxed);
  const uint64_t id = ++P.job;
  {
    std::lock_guard<std::mutex> lk(P.m);  // pairs with the predicate check of parking workers
    P.ticket.store(id << kIdxBits, std::memory_order_release);
  }
  P.cv.notify_all();

  tl_in_pool = true;
  P.drain(id);
  tl_in_pool = false;
  // Yield once polling gets long: a just-woken worker may be queued on this very CPU.
  for (int k = 0; P.done.load(std::memory_order_acquire) != ranges; ++k) {
    if (k < 256) TP_PAUSE();
    else std::this_thread::yield();
  }
}

}  // namespace tp
