// SparseLoCo encoder kernels (error feedback, chunked top-k, 2-bit quantization).
#include "common.h"

void RegisterCompress(Napi::Env, Napi::Object) {}
