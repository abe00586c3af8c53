// N-API entry of tessera's native kernels: each source file registers its own functions.
#include <napi.h>
#include "common.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  RegisterGemm(env, exports);     // gemm.cc: matmul, gemmPeak (threaded packed SGEMM)
  RegisterKernels(env, exports);  // kernels.cc: attention, norms, rope, swiglu, CE, embedding, adamw, elementwise
  RegisterCompress(env, exports); // compress.cc: SparseLoCo encode (error feedback, chunked top-k, 2-bit quantization)
  RegisterAggregate(env, exports); // aggregate.cc: SparseLoCo decode + aggregation + outer step, fingerprint
  exports.Set("numThreads", Napi::Number::New(env, tp::num_threads()));
  return exports;
}

NODE_API_MODULE(tessera_native, Init)
