import importlib.util
from pathlib import Path

import numpy as np
import pytest

from datamodules import SyntheticDataModule
from kpbottleneck import KeypointGAN, RegressorPretraining
from kpbottleneck.skeletons import get_skeleton

ABLATIONS = Path(__file__).resolve().parents[1] / "benchmarks" / "ablations.py"


@pytest.fixture(scope="module")
def ablations():
    spec = importlib.util.spec_from_file_location("ablations", ABLATIONS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ablations_use_the_main_jobs_settings(ablations):
    gan, gan_data, gan_trainer = ablations.main_job_settings("synthetic.yaml")
    eta, eta_data, eta_trainer = ablations.main_job_settings("synthetic_pretrain.yaml")
    assert "regressor_checkpoint" not in gan and gan_trainer["max_steps"] > 0 and eta_trainer["max_steps"] > 0
    assert gan_data["image_size"] == gan["image_size"] == eta_data["image_size"]
    model, regressor = KeypointGAN(**gan), RegressorPretraining(**eta)
    for name in ("skeleton", "image_size", "regressor_channels", "regressor_depth"):
        assert model.hparams[name] == regressor.hparams[name], name  # η's checkpoint must fit the GAN
    assert SyntheticDataModule(**eta_data).prior_only and not SyntheticDataModule(**gan_data).prior_only
    for variant in ablations.VARIANTS.values():
        KeypointGAN(**gan, **variant)


LIVE_ACTION = Path(__file__).resolve().parents[1] / "benchmarks" / "live_action" / "run.py"


@pytest.fixture(scope="module")
def live_action():
    spec = importlib.util.spec_from_file_location("live_action", LIVE_ACTION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_live_action_clips_match_their_checksums_and_hold_a_label_per_frame(live_action):
    from kpbottleneck.video_io import VideoReader

    manifest = live_action.read_manifest()  # raises on a checksum that differs
    assert len(manifest) >= 2 and len({clip["package"] for clip in manifest.values()}) >= 2
    for name, clip in manifest.items():
        get_skeleton(live_action.SKELETONS[clip["skeleton"]])  # a valid keypoint set for the library
        names = live_action.SKELETONS[clip["skeleton"]]["keypoint_names"]
        labels = live_action.HERE / "labels" / f"{name}.csv"
        for labeller in clip["labellers"]:
            points = live_action.read_landmarks(labels, labeller, names)
            assert points.shape == (VideoReader(live_action.HERE / clip["file"]).num_frames, len(names), 2)


@pytest.fixture(scope="module")
def cut_body():
    spec = importlib.util.spec_from_file_location("cut_body", LIVE_ACTION.with_name("cut_body.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cut_body_links_each_walker_into_one_track(cut_body):
    # two walkers 40 px tall going opposite ways, one of them missed in frame 3, and a one-frame blob
    boxes = [[(10 + 5 * t, 50, 15, 40), (200 - 4 * t, 60, 16, 42)] for t in range(8)]
    boxes[3] = boxes[3][1:]
    boxes[5].append((400, 300, 10, 40))
    tracks = cut_body.link_tracks(boxes)
    assert [len(track) for track in tracks] == [8, 7, 1]
    assert [t for t, _ in tracks[1]] == [0, 1, 2, 4, 5, 6, 7] and tracks[1][-1][1] == (45, 50, 15, 40)
    assert {box[0] for _, box in tracks[0]} == {200 - 4 * t for t in range(8)}


def test_cut_body_crops_a_square_of_one_and_a_half_heights_around_the_walker(cut_body):
    frames = [np.zeros((120, 160, 3), np.uint8) for _ in range(12)]
    for frame in frames:
        frame[40:80, 70:90] = 255  # a 20x40 walker centred at (80, 60)
    track = [(t, (70, 40, 20, 40)) for t in range(12) if t != 6]  # frame 6 interpolated
    crops, used = cut_body.track_crops(frames, track, side=30, block_frames=5)
    assert used == range(0, 10) and len(crops) == 10  # cut to whole blocks
    # the box is 60 px (1.5 x 40) around (80, 60): the walker fills the middle 2/3 of its height and 1/3
    # of its width; 30 px per side, so rows 5..24 and columns 10..19
    lit = np.argwhere(crops[6][..., 0] > 127)
    assert (lit.min(0).tolist(), lit.max(0).tolist()) == ([5, 10], [24, 19])


def test_live_action_parts_of_the_footage_are_disjoint_blocks(live_action):
    roles = live_action.frame_roles(30, 3)
    assert roles[:9] == ["train"] * 9 and roles[9:12] == ["prior"] * 3 and roles[12:15] == ["test"] * 3
    assert roles[15:] == roles[:15]
    # the square of the frame's height, centred on the landmarks and kept inside the frame
    assert live_action.crop_box(np.array([[[100.0, 50.0]]]), (144, 176)) == (28, 0, 144)
    assert live_action.crop_box(np.array([[[170.0, 50.0]]]), (144, 176)) == (32, 0, 144)
    # the error of a labeller 3 pixels off everywhere on a 60-pixel image: 5 % of the image size
    truth = np.random.default_rng(0).uniform(0, 60, (4, 5, 2))
    assert live_action.label_error(truth + np.array([3.0, 0.0]), truth, 60) == pytest.approx(5.0)
    # flip-tolerant: a prediction with two keypoints' places exchanged has no error once they may swap
    swapped = truth[:, [1, 0, 2, 3, 4]]
    assert live_action.label_error(swapped, truth, 60) > 0
    assert live_action.label_error(swapped, truth, 60, [1, 0, 2, 3, 4]) == pytest.approx(0.0)


def test_live_action_prepares_a_clip_as_a_users_own_videos(live_action, tmp_path):
    import csv

    from datamodules import VideoFolderDataModule

    clip = live_action.read_manifest()["carphone"]
    summary = live_action.prepare_clip("carphone", clip, tmp_path)
    assert summary["crop"]["side"] == 144 and summary["frames"] == {"train": 72, "prior": 24, "test": 24}
    assert 0.1 < summary["label_noise_floor"] < 2.0
    assert summary["mean_pose_baseline_flip_tolerant"] == pytest.approx(4.42, abs=0.005)  # faces: no swap
    train = sorted(p.stem for p in (tmp_path / "train").rglob("*.png"))
    rows = list(csv.DictReader((tmp_path / "labels.csv").open()))
    assert len(train) == 72 and len(rows) == summary["test_frames"] == 24
    assert not {row["source"].split("/")[-1][:-4] for row in rows} & set(train)
    prior = np.load(tmp_path / "prior.npy")
    assert prior.shape == (24, 19, 2) and np.abs(prior).max() < 1.2
    # the oracle prior: the same poses, each moved by one offset onto the training frames' mean position
    aligned = np.load(tmp_path / "prior_aligned.npy")
    offset = aligned - prior
    assert np.allclose(offset, offset[0, 0], atol=1e-5)
    # carphone's prior subject sits 4.6 % of the crop left of the training footage's and 3.0 % lower
    # (docs/live_action.md, diagnosis; normalised coordinates span 2 per side)
    assert offset[0, 0] * 50 == pytest.approx([4.58, -2.99], abs=0.01)
    data = VideoFolderDataModule(
        root=str(tmp_path / "train"),
        prior=str(tmp_path / "prior.npy"),
        skeleton=live_action.FACE19,
        prior_units="normalized",
        labels=str(tmp_path / "labels.csv"),
        image_size=32,
        window=clip["window"],
    )
    data.setup("fit")
    assert next(iter(data.val_dataloader()))["keypoints"].shape[1:] == (19, 2)


def test_live_action_set_changes_the_gan_stage_and_its_image_size_both(live_action):
    import argparse

    args = argparse.Namespace(
        budget=1,
        current_main_job=False,
        original_perceptual_loss=False,
        smoke=False,
        set=["model.init_args.image_size=128", "data.init_args.max_prior_samples=24"],
    )
    eta, gan = live_action.budget_configs(args)
    assert gan["model"]["init_args"]["image_size"] == eta["model"]["init_args"]["image_size"] == 128
    assert gan["data"]["init_args"]["max_prior_samples"] == 24
    assert "max_prior_samples" not in eta["data"]["init_args"]
    assert (
        gan["model"]["init_args"]["generator_channels"]
        == live_action.BUDGET["gan"]["model"]["init_args"]["generator_channels"]
    )


def test_live_action_smoke_runs_the_users_three_commands(tmp_path):
    import json
    import subprocess
    import sys

    command = [
        sys.executable,
        str(LIVE_ACTION),
        "--smoke",
        "--clips",
        "carphone",
        "--seeds",
        "0",
        "--out",
        str(tmp_path),
    ]
    subprocess.run(command, check=True, capture_output=True)
    (run,) = json.loads((tmp_path / "results.json").read_text())["runs"]
    assert run["clip"] == "carphone" and run["ratio"] == pytest.approx(
        run["test_error"] / run["mean_pose_baseline"], abs=1e-3
    )
    assert len(run["validation"]) == 2 and set(run["commands"]) == {"eta", "gan", "test"}
    row = f"| carphone | 1×, {run['precision']} | 0 |"
    assert row in (tmp_path / "results.md").read_text() and run["perceptual"] == "main job's"
    course = tmp_path / "carphone" / "budget1" / "seed0" / "gan" / "course"  # every half interval: 1 batch
    assert sorted(p.name for p in course.iterdir()) == [f"step={s:06d}.ckpt" for s in (2, 4, 6, 8)]
    diagnose = [sys.executable, str(LIVE_ACTION.with_name("diagnose.py")), "--out", str(tmp_path)]
    (line,) = subprocess.run(diagnose, check=True, capture_output=True, text=True).stdout.splitlines()[:1]
    diagnosis = json.loads(line)
    assert diagnosis["run"] == "budget1/seed0" and set(diagnosis["reconstruction_l1"]) == {
        "own",
        "blank",
        "other",
    }
    assert 0 < diagnosis["motion"]["gap_3"] < diagnosis["motion"]["gap_11"]  # farther frames differ more
    assert "| carphone | budget1/seed0 |" in (tmp_path / "diagnosis.md").read_text()
    read_course = [sys.executable, str(LIVE_ACTION.with_name("course.py")), "--out", str(tmp_path)]
    subprocess.run(read_course, check=True, capture_output=True)
    ((read,),) = [json.loads((tmp_path / "course.json").read_text())]
    checkpoints = [row["checkpoint"] for row in read["course"]]
    assert read["run"] == "carphone/budget1/seed0" and checkpoints == [
        p.name for p in sorted(course.iterdir())
    ]
    last = read["course"][-1]  # the final weights, as `kpbottleneck test` measured them
    assert last["test_error"] == pytest.approx(run["test_error"], abs=2e-3)
    assert last["test_error_offset_removed"] <= last["test_error"] and last["equivariance"] > 0


@pytest.fixture(scope="module")
def result_files():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "result_files.py"
    spec = importlib.util.spec_from_file_location("result_files", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_result_measured_again_replaces_its_line_and_others_stay(result_files, tmp_path):
    save = result_files.save_result
    save("step", {"model": "gan", "ms": 10}, ("model",), "cpu-x", root=tmp_path)
    save("step", {"model": "eta", "ms": 5}, ("model",), "cpu-x", root=tmp_path)
    path = save("step", {"model": "gan", "ms": 12}, ("model",), "cpu-x", root=tmp_path)
    save("step", {"model": "gan", "ms": 3}, ("model",), "cuda-y", root=tmp_path)
    assert path == tmp_path / "step" / "cpu-x.jsonl"
    results = result_files.load_results("step", root=tmp_path)
    assert list(results) == ["cpu-x", "cuda-y"]
    assert [(r["model"], r["ms"]) for r in results["cpu-x"]] == [("eta", 5), ("gan", 12)]
    assert {"date", "commit", "cpu"} <= set(results["cuda-y"][0]) and results["cuda-y"][0][
        "machine"
    ] == "cuda-y"
    table = result_files.markdown_table(
        results["cpu-x"], {"model": lambda r: r["model"], "ms": lambda r: r["ms"]}
    )
    assert table.splitlines() == ["| model | ms |", "|---|---|", "| eta | 5 |", "| gan | 12 |"]
