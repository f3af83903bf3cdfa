{
  # vecforge_hnsw: thin Node-API binding over the hnswlib headers that ship in
  # hnswlib-node (resolved at build time, never copied). Built by
  # native/build.mjs, which first tries VECFORGE_MARCH=native and then
  # VECFORGE_MARCH= (portable) if the compiler rejects -march=native.
  "variables": {
    "vecforge_march%": "<!(node -p \"process.env.VECFORGE_MARCH === undefined ? 'native' : process.env.VECFORGE_MARCH\")"
  },
  "targets": [
    {
      "target_name": "vecforge_hnsw",
      "sources": [
        "native/addon.cc",
        "native/args.cc",
        "native/registry.cc",
        "native/huge_pages.cc",
        "native/hnsw_ops.cc",
        "native/hnsw_search.cc",
        "native/graph_io.cc",
        "native/graph_format.cc",
        "native/sha256.cc",
        "native/line_digests.cc",
        "native/project_rows.cc",
        "native/bert_ops.cc",
        "native/file_lock.cc",
        "native/bm25_ops.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!(node -p \"require('path').join(path.dirname(require.resolve('hnswlib-node/package.json')),'src')\")"
      ],
      "defines": [ "NAPI_VERSION=8", "NODE_ADDON_API_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED" ],
      "cflags!": [ "-fno-exceptions", "-O2", "-O0", "-fno-omit-frame-pointer" ],
      "cflags_cc!": [ "-fno-exceptions", "-fno-rtti", "-O2", "-O0" ],
      "cflags": [ "-O3", "-fomit-frame-pointer", "-fvisibility=hidden", "-fno-semantic-interposition" ],
      "cflags_cc": [ "-O3", "-std=c++17", "-fexceptions", "-fomit-frame-pointer", "-fvisibility=hidden", "-fno-semantic-interposition" ],
      "conditions": [
        ["vecforge_march!=''", {
          "cflags": [ "-march=<(vecforge_march)" ],
          "cflags_cc": [ "-march=<(vecforge_march)" ],
          "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": [ "-march=<(vecforge_march)" ] }
        }],
        ["OS=='win'", {
          "defines": [ "_HAS_EXCEPTIONS=1", "NOMINMAX" ],
          "msvs_settings": {
            "VCCLCompilerTool": { "ExceptionHandling": 1, "Optimization": 2, "AdditionalOptions": [ "/std:c++17" ] }
          }
        }],
        ["OS=='mac'", {
          "xcode_settings": {
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "GCC_OPTIMIZATION_LEVEL": "3",
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "MACOSX_DEPLOYMENT_TARGET": "10.15"
          }
        }]
      ]
    }
  ]
}
