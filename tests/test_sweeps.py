"""W&B sweeps without a server: the agent's own command construction, a few offline steps per sweep."""

import json
import math
import os
import random
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from wandb.proto import wandb_internal_pb2
from wandb.sdk.launch.sweeps.utils import create_sweep_command, create_sweep_command_args

ROOT = Path(__file__).resolve().parents[1]
SWEEPS = sorted((ROOT / "experiments" / "sweeps").glob("*.yaml"))


def draw_parameters(parameters: dict, rng: random.Random) -> dict:
    """One random-search draw from a sweep's ``parameters`` (``values``, ``value``, uniform and
    log-uniform distributions), the way W&B's random search draws them."""
    drawn = {}
    for name, spec in parameters.items():
        if "values" in spec:
            drawn[name] = rng.choice(spec["values"])
        elif "value" in spec:
            drawn[name] = spec["value"]
        elif spec.get("distribution") == "log_uniform_values":
            drawn[name] = math.exp(rng.uniform(math.log(spec["min"]), math.log(spec["max"])))
        elif spec.get("distribution") == "int_uniform":
            drawn[name] = rng.randint(spec["min"], spec["max"])
        elif spec.get("distribution", "uniform") == "uniform":
            drawn[name] = rng.uniform(spec["min"], spec["max"])
        else:
            raise ValueError(f"{name}: distribution {spec['distribution']!r} not handled by this test")
    return drawn


def agent_command(sweep: dict, parameters: dict) -> list[str]:
    """The command line ``wandb agent`` runs for these parameters (wandb.wandb_agent.Agent._command_run)."""
    command = create_sweep_command(list(sweep["command"]))
    macros = create_sweep_command_args({"args": {k: {"value": v} for k, v in parameters.items()}})
    macros.update(env=["/usr/bin/env"], interpreter=["python"], program=[sweep["program"]])
    line: list[str] = []
    for chunk in command:
        name = chunk[2:-1] if chunk.startswith("${") and chunk.endswith("}") else None
        line += macros.get(name, [chunk])
    return line


def offline_run_config(run_file: Path) -> dict:
    """The config stored in an offline W&B run file (``run-<id>.wandb``): wandb-core writes it only there.

    The file is a LevelDB-style log (7-byte file header, 32 KiB blocks of records with a 7-byte header:
    CRC, length, type FULL/FIRST/MIDDLE/LAST) of ``wandb_internal_pb2.Record`` messages.
    """
    data, block, position, pending, config = run_file.read_bytes(), 32768, 7, b"", {}
    assert data[:4] == b":W&B", f"{run_file} is not a W&B run file"
    while position + 7 <= len(data):
        left = block - position % block
        _, length, kind = struct.unpack("<IHB", data[position : position + 7]) if left >= 7 else (0, 0, 0)
        if left < 7 or (length == 0 and kind == 0):
            position += left
            continue
        pending += data[position + 7 : position + 7 + length]
        position += 7 + length
        if kind in (1, 4):  # FULL or LAST: a whole record
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            pending = b""
            kind_name = record.WhichOneof("record_type")
            updates = {"config": record.config.update, "run": record.run.config.update}.get(kind_name, [])
            config.update({item.key: json.loads(item.value_json) for item in updates})
    return config


def test_agent_flags_reach_lightning_cli_unchanged():
    sweep = {"program": "kpbottleneck", "command": ["${env}", "${program}", "fit", "${args}"]}
    line = agent_command(sweep, {"model.init_args.lambda_adv": 5.0, "model.init_args.bottleneck": False})
    assert line == [
        "/usr/bin/env",
        "kpbottleneck",
        "fit",
        "--model.init_args.lambda_adv=5.0",
        "--model.init_args.bottleneck=False",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("sweep_file", SWEEPS, ids=lambda path: path.stem)
def test_sweep_runs_offline_and_its_config_holds_the_swept_values(sweep_file, tmp_path):
    sweep = yaml.safe_load(sweep_file.read_text())
    assert sweep["metric"]["name"] == "val/keypoint_error"
    parameters = draw_parameters(sweep["parameters"], random.Random(0))
    # The agent's command, plus a few-step budget; run beside a link to experiments/ so that relative
    # config paths resolve and every output lands in tmp_path.
    (tmp_path / "experiments").symlink_to(ROOT / "experiments")
    budget = [
        "--trainer.max_steps=2",
        "--trainer.limit_val_batches=1",
        "--trainer.val_check_interval=1",
        "--model.init_args.regressor_checkpoint=null",
        "--data.init_args.num_workers=0",
    ]
    env = {
        **os.environ,
        "WANDB_MODE": "offline",
        "WANDB_DIR": str(tmp_path),
        "WANDB_SILENT": "true",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    result = subprocess.run(
        agent_command(sweep, parameters) + budget,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    stored = offline_run_config(next(tmp_path.rglob("offline-run-*/run-*.wandb")))
    for name, value in parameters.items():
        assert stored[name] == value, name
    assert stored["trainer.max_steps"] == 2  # the whole resolved config is there, not only the sweep's
