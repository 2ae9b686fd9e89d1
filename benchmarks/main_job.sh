#!/usr/bin/env bash
# The README's main job, timed: the three commands for each seed given (default 0 1 2), one after the other, in
# the current checkout (its outputs/synthetic/ is removed before each seed). Prints one JSON line per seed:
# the test errors, η's and KeypointGAN's validation errors, the seconds of each command and the job's minutes,
# also written into benchmarks/results/main_job/<machine kind>.jsonl (result_files.py; the docs' tables).
#
#   bash benchmarks/main_job.sh            # seeds 0, 1, 2 on this machine's default precision
#   ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 bash benchmarks/main_job.sh 0   # as an AVX2-only CPU
#
# Logs of each command go to outputs/main_job/seed<N>.{eta,gan,test}.log (kept across seeds).
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=("$@")
[ ${#seeds[@]} -eq 0 ] && seeds=(0 1 2)
logs=outputs/main_job
mkdir -p "$logs"
for seed in "${seeds[@]}"; do
  rm -rf outputs/synthetic
  t0=$(date +%s.%N)
  kpbottleneck fit --config experiments/synthetic_pretrain.yaml --seed_everything "$seed" >"$logs/seed$seed.eta.log" 2>&1
  t1=$(date +%s.%N)
  kpbottleneck fit --config experiments/synthetic.yaml --seed_everything "$seed" >"$logs/seed$seed.gan.log" 2>&1
  t2=$(date +%s.%N)
  kpbottleneck test --config experiments/synthetic.yaml --ckpt_path outputs/synthetic/gan/last.ckpt \
    --seed_everything "$seed" >"$logs/seed$seed.test.log" 2>&1
  t3=$(date +%s.%N)
  python - "$seed" "$t0" "$t1" "$t2" "$t3" "$logs" <<'PY'
import csv
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, "benchmarks")
from result_files import save_result  # noqa: E402

from kpbottleneck.hardware import default_precision, machine_kind  # noqa: E402

seed, t0, t1, t2, t3, logs = sys.argv[1], *map(float, sys.argv[2:6]), Path(sys.argv[6])
test = (logs / f"seed{seed}.test.log").read_text()


def metric(name: str) -> float:
    return round(float(re.search(rf"test/{name}\s+([0-9.]+)", test).group(1)), 3)


def validation(stage: str, key: str) -> list[float]:
    rows = csv.DictReader(Path(f"outputs/synthetic/{stage}/lightning_logs/version_0/metrics.csv").open())
    return [round(float(row[key]), 2) for row in rows if row.get(key)]


said = [
    line.split("INFO: ")[-1].strip()
    for line in (logs / f"seed{seed}.gan.log").read_text().splitlines()
    if "precision: unset" in line or "channels_last: null" in line
]
error, baseline = metric("keypoint_error"), metric("mean_pose_error")
record = {
    "seed": int(seed),
    "precision": default_precision().precision,
    "test_error": error,
    "mean_pose_baseline": baseline,
    "ratio": round(error / baseline, 3),
    "post_processed": metric("keypoint_error_post_processed"),
    "eta_validation": validation("regressor", "val/regressor_error"),
    "gan_validation": validation("gan", "val/keypoint_error"),
    "seconds": {"eta": round(t1 - t0, 1), "gan": round(t2 - t1, 1), "test": round(t3 - t2, 1)},
    "job_minutes": round((t3 - t0) / 60, 2),
    "chosen": said,
}
print(json.dumps(record), flush=True)
save_result("main_job", record, ("seed", "precision"), machine_kind())
PY
done
