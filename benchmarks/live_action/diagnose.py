"""What the live-action runs of ``run.py`` learnt, read off their checkpoints, logs and labels (no training).

    python benchmarks/live_action/diagnose.py                         # every run under outputs/live_action
    python benchmarks/live_action/diagnose.py --out /tmp/la

For each finished run (``<out>/<clip>/<setting>/seed<N>`` with its ``test.log``), one JSON line and a row
of ``<out>/diagnosis.md``:

- **Ψ's use of the skeleton**: the mean absolute pixel error (images in [0, 1]) of x̂ = Ψ(β(η(Φ(x))), x′)
  against x on the test frames, beside the same with the skeleton image blanked (all zeros) and with the
  skeleton of another test frame. Where blanking costs nothing, Ψ rebuilds x from x′ alone and the
  bottleneck carries no pose: nothing then teaches Φ to find the face. x′ is the test frame ``window[0]``
  frames away in the same block, as in training.
- **The adversarial balance**: over the last quarter of training, the means of D's loss, of its accuracy on
  prior and on predicted skeletons, and of the generator's adversarial term (``metrics.csv``).
- **The motion a pair shows**: the mean distance (% of the crop's side, pseudo labels) between the
  keypoints of two frames of a training block at the window's smallest and largest gap, beside the
  test frames' spread around their mean pose (the mean-pose baseline's error), also flip-tolerant (each
  frame's labels or their left/right swap, the nearer): a pair that barely moves gives Φ little to explain.
- **Where the prior puts the subject**: the mean keypoint position of the training frames less that of the
  prior's (x, y; % of the crop, pseudo labels): the prior's poses are the training footage's only if this
  is small.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from pathlib import Path

import numpy as np
import torch
import yaml
from PIL import Image
from run import (
    HERE,
    REPO,
    SKELETONS,
    crop_box,
    frame_roles,
    label_error,
    read_landmarks,
    read_manifest,
    training_minus_prior,
)
from torch.nn import functional as F

from kpbottleneck.detector import KeypointDetector
from kpbottleneck.skeletons import get_skeleton
from kpbottleneck.video_io import VideoReader


def test_pairs(data: Path, block_frames: int, gap: int) -> tuple[list[int], list[int]]:
    """Each test frame and its appearance frame ``gap`` away in the same block (forwards, else backwards)."""
    frames = sorted(int(p.stem) for p in (data / "test").glob("*.png"))
    present = set(frames)
    partners = []
    for t in frames:
        candidates = [
            u for u in (t + gap, t - gap) if u in present and u // block_frames == t // block_frames
        ]
        partners.append(candidates[0] if candidates else t)
    return frames, partners


def load_frames(data: Path, frames: list[int], size: int) -> torch.Tensor:
    """Test frames ``(N, 3, size, size)`` in [0, 1], resized as the data module resizes them."""
    images = [
        torch.from_numpy(np.asarray(Image.open(data / "test" / f"{t:06d}.png"), dtype=np.float32) / 255)
        for t in frames
    ]
    batch = torch.stack(images).permute(0, 3, 1, 2)
    return F.interpolate(batch, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


@torch.no_grad()
def skeleton_use(
    detector: KeypointDetector, images: torch.Tensor, appearance: torch.Tensor
) -> dict[str, float]:
    """Reconstruction errors with the predicted, a blank and another frame's skeleton image."""
    skeleton = detector.renderer(detector(images))
    other = skeleton.roll(1, dims=0)
    errors = {}
    for name, drawn in (("own", skeleton), ("blank", torch.zeros_like(skeleton)), ("other", other)):
        errors[name] = round(float((detector.decoder(drawn, appearance) - images).abs().mean()), 4)
    return errors


def adversarial_balance(stage: Path) -> dict[str, float]:
    """Means over the last quarter of the logged steps of D's loss and accuracies and G's adversarial term."""
    rows = list(csv.DictReader((stage / "lightning_logs" / "version_0" / "metrics.csv").open()))
    keys = {
        "discriminator_loss": "train/loss_discriminator",
        "accuracy_prior": "train/discriminator_accuracy_prior",
        "accuracy_predicted": "train/discriminator_accuracy_predicted",
        "generator_adversarial": "train/loss_adversarial",
    }
    balance = {}
    for name, key in keys.items():
        values = [float(row[key]) for row in rows if row.get(key)]
        last_quarter = values[len(values) * 3 // 4 :]
        balance[name] = round(statistics.fmean(last_quarter), 3) if last_quarter else float("nan")
    return balance


def pair_motion(name: str, clip: dict) -> dict[str, float]:
    """Keypoint motion between a training pair's frames, and the test frames' spread (% of the crop), also
    flip-tolerant (each frame's labels or their left/right swap, whichever is nearer the mean pose); frames
    without a label are left out."""
    skeleton = SKELETONS[clip["skeleton"]]
    labels = read_landmarks(HERE / "labels" / f"{name}.csv", clip["labellers"][0], skeleton["keypoint_names"])
    side = crop_box(labels, VideoReader(HERE / clip["file"]).size)[2]
    roles = np.array(frame_roles(len(labels), clip["block_frames"]))
    block = np.arange(len(labels)) // clip["block_frames"]
    labelled = ~np.isnan(labels).any(axis=(1, 2))
    motion = {}
    for gap in clip["window"]:
        pairs = [
            t
            for t in range(len(labels) - gap)
            if roles[t] == "train" and block[t] == block[t + gap] and labelled[t] and labelled[t + gap]
        ]
        distance = np.linalg.norm(labels[[t + gap for t in pairs]] - labels[pairs], axis=-1).mean()
        motion[f"gap_{gap}"] = round(float(distance) / side * 100, 2)
    test = labels[(roles == "test") & labelled]
    mean_pose = np.repeat(test.mean(0)[None], len(test), axis=0)
    swap = list(get_skeleton(skeleton).flip_permutation)
    motion["test_spread"] = round(label_error(mean_pose, test, side), 2)
    motion["test_spread_flip_tolerant"] = round(label_error(mean_pose, test, side, swap), 2)
    shift = training_minus_prior(labels, roles)
    motion["train_minus_prior"] = [round(float(v) / side * 100, 2) for v in shift]
    return motion


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=REPO / "outputs" / "live_action")
    args = parser.parse_args()
    manifest = read_manifest()
    rows = []
    for run_dir in sorted(args.out.glob("*/budget*/seed*")):
        name = run_dir.parts[-3]
        checkpoint = run_dir / "gan" / "last.ckpt"
        if not (run_dir / "test.log").is_file():  # not finished
            continue
        window = yaml.safe_load((run_dir / "gan.yaml").read_text())["data"]["init_args"]["window"]
        clip = {**manifest[name], "window": window}
        detector = KeypointDetector.from_checkpoint(checkpoint)
        frames, partners = test_pairs(args.out / name / "data", clip["block_frames"], clip["window"][0])
        images = load_frames(args.out / name / "data", frames, detector.image_size)
        appearance = images[[frames.index(u) for u in partners]]
        rows.append(
            {
                "clip": name,
                "run": "/".join(run_dir.parts[-2:]),
                "reconstruction_l1": skeleton_use(detector, images, appearance),
                "adversarial": adversarial_balance(run_dir / "gan"),
                "motion": pair_motion(name, clip),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    lines = [
        "| clip | run | x̂ error: own / blank / other frame's skeleton | D loss | D accuracy prior / "
        "predicted | G adversarial | pair motion at the window's gaps (%) | test spread (%) | "
        "test spread, flip-tolerant (%) | training frames' mean less the prior's, x, y (%) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        l1, adv, motion = row["reconstruction_l1"], row["adversarial"], row["motion"]
        gaps = " / ".join(f"{v:.2f}" for k, v in motion.items() if k.startswith("gap_"))
        lines.append(
            f"| {row['clip']} | {row['run']} | {l1['own']:.4f} / {l1['blank']:.4f} / {l1['other']:.4f} | "
            f"{adv['discriminator_loss']:.3f} | {adv['accuracy_prior']:.2f} / "
            f"{adv['accuracy_predicted']:.2f} | {adv['generator_adversarial']:.3f} | {gaps} | "
            f"{motion['test_spread']:.2f} | {motion['test_spread_flip_tolerant']:.2f} | "
            f"{', '.join(f'{v:+.1f}' for v in motion['train_minus_prior'])} |"
        )
    (args.out / "diagnosis.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
