"""The top layer: loops that run both `curate` and `train` (the data ablation, the demo), and the command lines
that add those subcommands to the lower layers' own (`studies.cli`). Nothing below imports it
(docs/architecture.md).
"""
