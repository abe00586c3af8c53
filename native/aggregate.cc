// SparseLoCo decode + aggregation + outer step kernels, parameter fingerprint.
#include "common.h"

void RegisterAggregate(Napi::Env, Napi::Object) {}
