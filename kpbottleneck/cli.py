"""The command line: one LightningCLI program (`kpbottleneck`, `lightning`, `python -m kpbottleneck`).

Subcommands ``fit``, ``validate``, ``test`` and ``predict``; the model and the data module are chosen in
the config by ``class_path`` (e.g. ``kpbottleneck.KeypointGAN`` with ``datamodules.SyntheticDataModule``),
every ``__init__`` argument of both is an option (``--model.init_args.lambda_adv 5``).

A run whose config leaves ``trainer.precision`` unset gets the machine's
(:func:`kpbottleneck.hardware.default_precision`: ``bf16-mixed`` where bf16 is native, else ``32-true``),
and the console says which and why; ``--trainer.precision`` chooses another.

Without ``--config`` or ``--model``, ``predict`` takes the model from ``--ckpt_path`` alone and the rest from
``kpbottleneck/predict.yaml`` (a :class:`~kpbottleneck.writers.KeypointWriter` on a
:class:`~datamodules.MediaDataModule`): ``kpbottleneck predict --ckpt_path model.ckpt --data.path frames/``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from pytorch_lightning import LightningDataModule, LightningModule, Trainer
from pytorch_lightning.cli import ArgsType, LightningArgumentParser, LightningCLI, SaveConfigCallback
from pytorch_lightning.utilities import rank_zero_info

from kpbottleneck.hardware import accelerator_device, default_precision

PREDICT_DEFAULTS = Path(__file__).with_name("predict.yaml")


def _option(args: list[str], name: str) -> str | None:
    """The value of ``--name value`` or ``--name=value`` in ``args`` (``None`` when absent)."""
    for position, arg in enumerate(args):
        if arg == name and position + 1 < len(args):
            return args[position + 1]
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
    return None


def model_from_checkpoint(args: list[str]) -> list[str]:
    """Options for ``predict`` from its ``--ckpt_path`` alone, when neither ``--config`` nor ``--model`` is
    given (otherwise none): the packaged ``predict.yaml`` (writer and media data module), the model's class
    and the options that shape the data module; Lightning reads the rest from the checkpoint.

    Raises ``FileNotFoundError`` for a missing checkpoint and ``ValueError`` for one without its class.
    """
    given = {arg.split("=", 1)[0] for arg in args}
    checkpoint = _option(args, "--ckpt_path")
    if checkpoint is None or given & {"-c", "--config", "--model"}:
        return []
    if not Path(checkpoint).is_file():
        raise FileNotFoundError(f"--ckpt_path: checkpoint {checkpoint} does not exist")
    hparams = torch.load(checkpoint, map_location="cpu", weights_only=True).get("hyper_parameters", {})
    if "_class_path" not in hparams:
        raise ValueError(
            f"--ckpt_path: checkpoint {checkpoint} does not record its model class (hyper_parameters "
            "'_class_path', written by the CLI): give --config with the training config, or --model"
        )
    options = ["--config", str(PREDICT_DEFAULTS), "--model", hparams["_class_path"]]
    if "image_size" in hparams:  # (before Lightning's own reading of the checkpoint: the data module's size)
        options.append(f"--model.init_args.image_size={hparams['image_size']}")
    return options


def flatten_config(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings → one level with dotted keys (``{"model": {"lr": 1}}`` → ``{"model.lr": 1}``)."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten_config(value, f"{name}."))
        else:
            flat[name] = value
    return flat


class SaveConfigToLoggers(SaveConfigCallback):
    """Saves ``config.yaml`` in the log directory (Lightning's behaviour) and also gives every logger the
    resolved configuration as flat dotted keys, e.g. ``model.init_args.lambda_adv``: a W&B run's config
    then holds exactly the options that a sweep sets, under the same names.

    DESIGN: ``predict`` writes no ``config.yaml``. It runs without a logger, so Lightning's log directory
    is the current directory, and a prediction run must write nothing outside the writer's output folder.
    """

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if stage == "predict":
            self.save_to_log_dir = False
        super().setup(trainer, pl_module, stage)

    def save_config(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        config = flatten_config(self.config.as_dict())
        config.pop("config", None)  # the paths of the config files themselves
        for logger in trainer.loggers:
            logger.log_hyperparams(config)


class KeypointCLI(LightningCLI):
    """LightningCLI with subclass mode for models and data modules and the config saved with every run."""

    def __init__(self, args: list[str] | None = None, run: bool = True) -> None:
        super().__init__(
            LightningModule,
            LightningDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            save_config_callback=SaveConfigToLoggers,
            save_config_kwargs={"overwrite": True},
            args=args,
            run=run,
        )

    def parse_arguments(self, parser: LightningArgumentParser, args: ArgsType) -> None:
        """Lightning's parsing, after :func:`model_from_checkpoint` for ``predict``."""
        if args is None or isinstance(args, list):
            args = list(sys.argv[1:] if args is None else args)
            if args[:1] == ["predict"]:
                args = [args[0], *model_from_checkpoint(args[1:]), *args[1:]]
        self.config = parser.parse_args(args) if isinstance(args, list) else parser.parse_object(args)

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        """The data module's ``image_size`` is the model's: set once, in ``model.init_args``."""
        parser.link_arguments("model.init_args.image_size", "data.init_args.image_size")

    def before_instantiate_classes(self) -> None:
        """An unset ``trainer.precision`` becomes the machine's default (before the Trainer is built, so
        the saved ``config.yaml`` records what ran)."""
        config = self.config[self.subcommand] if self.subcommand else self.config
        if config.trainer.precision is not None:
            return
        device = accelerator_device(config.trainer.accelerator)
        choice = default_precision(device)
        config.trainer.precision = choice.precision
        rank_zero_info(
            f"trainer.precision: unset → {choice.precision} ({choice.reason}; "
            "set --trainer.precision to choose)"
        )


def main(args: list[str] | None = None) -> None:
    """Entry point of the console scripts."""
    KeypointCLI(args=args)


if __name__ == "__main__":
    main()
