#!/usr/bin/env bash
# The GPU host's half of scripts/gpu-proof.sh (packed as gpu-proof/run.sh): the packed node binary
# runs the compiled app. Prints the device, the provider chosen, the fixture audit in fp32 and fp16
# (seconds, Spearman of the scores), and the benchmark table on that provider.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
node="$here/node/bin/node"
app="$here/app"
work="$(mktemp -d)"
cd "$app"

echo "== device"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "(no nvidia-smi)"
echo "node $("$node" --version), $(nproc) cores"

echo "== execution provider"
provider="$("$node" --input-type=module -e '
const { chooseProviders } = await import("./dist/engine/providers.js");
const logger = { info() {}, warn(o, m) { console.error(m, o.reason ?? "") } };
const choice = await chooseProviders(["cuda", "webgpu", "cpu"], { logger });
console.log(choice.provider);
')"
echo "best provider here: $provider"

echo "== fixture audit (410 candidates, 300 controls, K=16)"
mean="$("$node" -p 'require("./fixtures/manifest.json").encoders.normalization.mean.join(",")')"
std="$("$node" -p 'require("./fixtures/manifest.json").encoders.normalization.std.join(",")')"
for precision in fp32 fp16; do
  start=$EPOCHREALTIME
  "$node" bin/sslmem.js audit --target fixtures/encoders/target.onnx --reference fixtures/encoders/reference.onnx \
    --candidates fixtures/data/candidates --controls fixtures/data/controls.npy --mean "$mean" --std "$std" \
    --seed 1 --providers "$provider" --precision "$precision" -o "json=$work/$precision.json" --quiet
  rc=$?
  end=$EPOCHREALTIME
  echo "$precision: exit $rc, $("$node" -p "($end - $start).toFixed(2)") s (whole CLI: start-up, model load, 710 points × 32 views)"
done
"$node" -e '
const [a, b] = process.argv.slice(1).map((f) => require(f).points.map((p) => p.score));
const rank = (xs) => { const o = xs.map((x, i) => [x, i]).sort((p, q) => p[0] - q[0]); const r = []; o.forEach(([, i], k) => (r[i] = k)); return r; };
const ra = rank(a), rb = rank(b), n = a.length;
const d2 = ra.reduce((s, r, i) => s + (r - rb[i]) ** 2, 0);
console.log(`Spearman(fp32, fp16) over ${n} points: ${(1 - (6 * d2) / (n * (n * n - 1))).toFixed(4)} (needs >= 0.99)`);
' "$work/fp32.json" "$work/fp16.json" || true

# One benchmark run per encoder, so that each prints its table as it finishes. GPU_PROOF_BENCH adds
# options (e.g. "--threads 4,16 --passes 1" on a many-core host with a short lease: the default
# probes 1…cores threads in 4 arrangements twice); GPU_PROOF_CASE_TIMEOUT (seconds) bounds each;
# GPU_PROOF_ENCODERS names the encoders (default all three).
echo "== benchmark on $provider (limit = both encoders alone on this device, views in host memory)"
# shellcheck disable=SC2086 # a list of names
for encoder in ${GPU_PROOF_ENCODERS:-fixture conv64 resnet18}; do
  # shellcheck disable=SC2086 # GPU_PROOF_BENCH is a list of options
  timeout "${GPU_PROOF_CASE_TIMEOUT:-0}" "$node" bench/audit.bench.js --encoder "$encoder" --providers "$provider" --rounds 2 ${GPU_PROOF_BENCH:-}
  rc=$?
  [ "$rc" = 0 ] || echo "benchmark $encoder: exit $rc$([ "$rc" = 124 ] && echo " (GPU_PROOF_CASE_TIMEOUT)")"
done
rm -rf "$work"
