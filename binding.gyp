{
  "targets": [
    {
      "target_name": "tessera_native",
      "sources": ["native/addon.cc", "native/threadpool.cc", "native/gemm.cc", "native/kernels.cc", "native/attention.cc", "native/compress.cc", "native/aggregate.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions", "-O2", "-O1"],
      "cflags_cc!": ["-fno-exceptions", "-O2", "-O1"],
      "cflags_cc": ["-O3", "-march=native", "-std=c++17", "-ffp-contract=fast", "-fno-math-errno"],
      "ldflags": ["-pthread"]
    }
  ]
}
