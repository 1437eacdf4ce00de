"""The `curate` and `train` console scripts: each lower layer's own command line plus the subcommands that run
both layers. curate.cli and train.cli never import this module; adding a cross-layer subcommand is one entry in
CURATE_COMMANDS or TRAIN_COMMANDS (a function that adds a subparser and sets its handler).

    python -m studies.cli curate demo ...   # what the console script `curate demo ...` runs
    python -m studies.cli train ablate ...  # what `train ablate ...` runs
"""

from __future__ import annotations

import sys

from curate import cli as curate_cli
from studies.ablate import add_ablate_parser
from studies.demo import add_demo_parser
from studies.scaling import add_scaling_parser
from train import cli as train_cli

CURATE_COMMANDS = [add_demo_parser]  # curate demo
TRAIN_COMMANDS = [add_ablate_parser, add_scaling_parser]  # train ablate | scaling


def curate(argv: list[str] | None = None) -> int:
    return curate_cli.main(argv, CURATE_COMMANDS)


def train(argv: list[str] | None = None) -> int:
    return train_cli.main(argv, TRAIN_COMMANDS)


COMMANDS = {"curate": curate, "train": train}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: python -m studies.cli {{{','.join(COMMANDS)}}} ARGS...")
    sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))
