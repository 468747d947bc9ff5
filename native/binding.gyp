{
  "targets": [
    {
      "target_name": "sslmem_augment",
      "sources": ["augment.cc"],
      "cflags_cc": ["-O3", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off", "-std=c++17"],
      "cflags_cc!": ["-fno-exceptions"]
    }
  ]
}
