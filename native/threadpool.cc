// The persistent thread pool behind tp::parallel_for: workers are created once, spin briefly after
// each job (back-to-back kernels then start in ~1 µs) and park on a condition variable when idle.
#include "common.h"
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TP_PAUSE() _mm_pause()
#else
#define TP_PAUSE() std::this_thread::yield()
#endif

namespace {

constexpr auto kSpin = std::chrono::microseconds(200);  // how long an idle worker polls before parking

thread_local bool tl_in_pool = false;  // nested parallel_for (from inside a job) runs inline

struct Pool {
  int n = 1;                       // threads including the caller
  std::mutex call;                 // one job at a time; a concurrent caller runs its work inline
  std::mutex m;
  std::condition_variable cv;
  std::atomic<uint64_t> gen{0};    // bumped once per job; workers wait for it to change
  std::atomic<int> pending{0};     // workers yet to finish (or skip) the current job
  const std::function<void(int64_t, int64_t)>* fn = nullptr;
  int64_t total = 0;
  int used = 0;                    // threads taking part in the current job

  static void range(int64_t total, int used, int i, int64_t& b, int64_t& e) {
    b = total * i / used;
    e = total * (i + 1) / used;
  }

  void worker(int i) {
    tl_in_pool = true;
    uint64_t seen = 0;
    for (;;) {
      uint64_t g = gen.load(std::memory_order_acquire);
      if (g == seen) {
        // Poll for a while (cheap restart), then sleep until the next job.
        auto until = std::chrono::steady_clock::now() + kSpin;
        for (int k = 0; (g = gen.load(std::memory_order_acquire)) == seen; ++k) {
          TP_PAUSE();
          if ((k & 63) == 63 && std::chrono::steady_clock::now() > until) {
            std::unique_lock<std::mutex> lk(m);
            cv.wait(lk, [&] { return gen.load(std::memory_order_acquire) != seen; });
          }
        }
      }
      seen = g;
      if (i < used) {
        int64_t b, e;
        range(total, used, i, b, e);
        if (b < e) (*fn)(b, e);
      }
      // Every worker acknowledges, so the job's fields stay untouched until all have read them.
      pending.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  Pool() {
    const char* env = std::getenv("TESSERA_THREADS");
    int want = env ? std::atoi(env) : 0;
    if (want <= 0) want = static_cast<int>(std::thread::hardware_concurrency());
    n = want < 1 ? 1 : want;
    // Detached on purpose: the pool lives for the whole process and must not block exit.
    for (int i = 1; i < n; ++i) std::thread([this, i] { worker(i); }).detach();
  }
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: parked workers still reference it at exit
  return *p;
}

}  // namespace

namespace tp {

int num_threads() { return pool().n; }

void parallel_for(int64_t n, int64_t min_per_thread, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  Pool& P = pool();
  int64_t cap = min_per_thread > 0 ? n / min_per_thread : n;
  int used = static_cast<int>(cap < P.n ? cap : P.n);
  if (used <= 1 || tl_in_pool) { fn(0, n); return; }
  std::unique_lock<std::mutex> busy(P.call, std::try_to_lock);
  if (!busy.owns_lock()) { fn(0, n); return; }

  P.fn = &fn;
  P.total = n;
  P.used = used;
  P.pending.store(P.n - 1, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lk(P.m);  // pairs with the predicate check of parking workers
    P.gen.fetch_add(1, std::memory_order_release);
  }
  P.cv.notify_all();

  tl_in_pool = true;
  int64_t b, e;
  Pool::range(n, used, 0, b, e);
  if (b < e) fn(b, e);
  tl_in_pool = false;
  while (P.pending.load(std::memory_order_acquire) != 0) TP_PAUSE();
}

}  // namespace tp
