"""The bottom layer that `curate` and `train` both build on: typed config (`typed`), the token shard format
(`shards`), the mix manifest and plan (`mix`), the tokenizer files both sides write (`tokenizer`), plot
colours (`colours`) and the package version (`version`). It imports numpy, pyyaml and the standard library
only, never `curate`, `train` or
`studies` (docs/architecture.md).
"""
