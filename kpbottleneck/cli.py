"""The command line: one LightningCLI program (`kpbottleneck`, `lightning`, `python -m kpbottleneck`).

Subcommands ``fit``, ``validate``, ``test`` and ``predict``; the model and the data module are chosen in
the config by ``class_path`` (e.g. ``kpbottleneck.KeypointGAN`` with ``datamodules.SyntheticDataModule``),
every ``__init__`` argument of both is an option (``--model.init_args.lambda_adv 5``).

A run whose config leaves ``trainer.precision`` unset gets the machine's
(:func:`kpbottleneck.hardware.default_precision`: ``bf16-mixed`` where bf16 is native, else ``32-true``),
and the console says which and why; ``--trainer.precision`` chooses another.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytorch_lightning import LightningDataModule, LightningModule, Trainer
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback
from pytorch_lightning.utilities import rank_zero_info

from kpbottleneck.hardware import accelerator_device, default_precision


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
