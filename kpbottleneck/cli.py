"""The command line: one LightningCLI program (`kpbottleneck`, `lightning`, `python -m kpbottleneck`).

Subcommands ``fit``, ``validate``, ``test`` and ``predict``; the model and the data module are chosen in
the config by ``class_path`` (e.g. ``kpbottleneck.KeypointGAN`` with ``datamodules.SyntheticDataModule``),
every ``__init__`` argument of both is an option (``--model.init_args.lambda_adv 5``).
"""

from __future__ import annotations

from pytorch_lightning import LightningDataModule, LightningModule
from pytorch_lightning.cli import LightningCLI


class KeypointCLI(LightningCLI):
    """LightningCLI with subclass mode for models and data modules and a config saved with every run."""

    def __init__(self, args: list[str] | None = None, run: bool = True) -> None:
        super().__init__(
            LightningModule,
            LightningDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            save_config_kwargs={"overwrite": True},
            args=args,
            run=run,
        )


def main(args: list[str] | None = None) -> None:
    """Entry point of the console scripts."""
    KeypointCLI(args=args)


if __name__ == "__main__":
    main()
