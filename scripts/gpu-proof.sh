#!/usr/bin/env bash
# scripts/gpu-proof.sh — the on-device pipeline measured on a GPU host. Never part of CI.
#
# Two steps, because the GPU host need not have Node.js or this checkout:
#
#   scripts/gpu-proof.sh pack [FILE]   on a machine with this checkout after `npm ci` (Linux x64):
#                                      writes FILE (default .gpu-proof/gpu-proof.tar.xz, ~60 MB):
#                                      this machine's node binary, the compiled app (dist/, bin/),
#                                      the compiled benchmark, production node_modules for linux-x64
#                                      only, the fixtures, and run.sh;
#   tar -xJf gpu-proof.tar.xz -C /tmp && /tmp/gpu-proof/run.sh
#                                      on the GPU host: picks the best execution provider that
#                                      loads there (cuda, then webgpu, then cpu), runs the fixture
#                                      audit in fp32 and fp16 (timing, Spearman of the two score
#                                      lists) and the benchmark (`npm run bench` compiled) on that
#                                      provider, which prints audit views/s against the encoders'
#                                      own rate on that device (the "limit" column) and the ratio.
#                                      Its app/bench/pipeline-profile.bench.js (PROVIDER=webgpu …)
#                                      splits a batch's time on the device (see its doc comment).
#
# With this repository's device tool: pack here, then
#   run(command: "tar -xJf .gpu-proof/gpu-proof.tar.xz -C /tmp && /tmp/gpu-proof/run.sh | tee $OUT/gpu-proof.txt",
#       carry: [".gpu-proof"], timeout_s: 540)
#
# Providers: the onnxruntime-node package installed by `npm ci` bundles the cpu and webgpu providers;
# the CUDA provider is a separate download (ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild
# onnxruntime-node, as the Dockerfile's gpu target does). When the packing machine has it, it is
# packed and run.sh tries it first; otherwise webgpu (Dawn over Vulkan on NVIDIA drivers) is the GPU
# path, and when neither loads the script says so and measures the cpu.
set -euo pipefail
cd "$(dirname "$0")/.."

pack() {
  local out="${1:-.gpu-proof/gpu-proof.tar.xz}"
  local stage
  stage="$(mktemp -d)"
  local app="$stage/gpu-proof/app"
  mkdir -p "$app" "$stage/gpu-proof/node/bin" "$(dirname "$out")"
  echo "gpu-proof: building dist/ and the benchmark" >&2
  npx tsc -p tsconfig.build.json
  # The benchmarks (audit, and the pipeline profile for diagnosis) and the sources they import,
  # compiled to JavaScript next to each other (no tsx); the staging thread's entry too, which
  # staging.ts loads by its URL, so no import reaches it.
  npx tsc --ignoreConfig --noEmit false --outDir "$app" --rootDir . --rewriteRelativeImportExtensions \
    --target ES2022 --module NodeNext --moduleResolution NodeNext --strict --skipLibCheck \
    --resolveJsonModule --esModuleInterop --allowImportingTsExtensions --types node --lib ES2023 \
    bench/audit.bench.ts bench/encoders.ts bench/pipeline-profile.bench.ts src/engine/staging-worker.ts
  cp -r dist bin package.json "$app/"
  # The host augmentation addon (src/engine/host-augment.ts): the CPU provider's views, and a GPU
  # provider's of at most 128 pixels a side; larger ones are made in the composed graph.
  npm run --silent build:native >&2
  mkdir -p "$app/native/build/Release"
  cp native/build/Release/sslmem_augment.node "$app/native/build/Release/"
  cp bench/audit-child.mjs "$app/bench/"
  mkdir -p "$app/fixtures"
  cp -r fixtures/encoders fixtures/data fixtures/manifest.json "$app/fixtures/"
  echo "gpu-proof: production node_modules for linux-x64" >&2
  cp package.json package-lock.json "$stage/"
  (cd "$stage" && ONNXRUNTIME_NODE_INSTALL=skip npm_config_audit=false npm_config_fund=false \
    npm ci --omit=dev --omit=optional --ignore-scripts --no-fund --no-audit >/dev/null)
  # sharp's native parts come as optional per-platform packages (@img/*); copy this machine's.
  rm -rf "$stage/node_modules/@img" && cp -r node_modules/@img "$stage/node_modules/"
  # better-sqlite3 (the service's store) is not used by the audit CLI or the benchmark.
  rm -rf "$stage/node_modules/better-sqlite3" "$stage/node_modules/@tensorflow"
  # onnxruntime-node: this machine's build (with the CUDA provider when it was downloaded here),
  # linux-x64 only.
  rm -rf "$stage/node_modules/onnxruntime-node" && cp -r node_modules/onnxruntime-node "$stage/node_modules/"
  find "$stage/node_modules/onnxruntime-node/bin/napi-v6" -mindepth 1 -maxdepth 1 ! -name linux -exec rm -rf {} +
  find "$stage/node_modules/onnxruntime-node/bin/napi-v6/linux" -mindepth 1 -maxdepth 1 ! -name x64 -exec rm -rf {} +
  mv "$stage/node_modules" "$app/node_modules"
  cp "$(command -v node)" "$stage/gpu-proof/node/bin/node"
  cp scripts/gpu-proof-run.sh "$stage/gpu-proof/run.sh"
  chmod +x "$stage/gpu-proof/run.sh"
  echo "gpu-proof: compressing" >&2
  tar -C "$stage" -cf - gpu-proof | xz -T0 -6 > "$out"
  rm -rf "$stage"
  echo "gpu-proof: wrote $out ($(du -h "$out" | cut -f1))" >&2
}

case "${1:-}" in
  pack) shift; pack "$@" ;;
  *) echo "usage: scripts/gpu-proof.sh pack [FILE]   (then run FILE's gpu-proof/run.sh on the GPU host)" >&2; exit 2 ;;
esac
