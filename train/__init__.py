"""GPT pre-training on curated token shards (torch, numpy, pyyaml, `tokenizers` and the shared layer `common`).

`train` never imports `curate`: what both need (typed config, the token shard format, the mix manifest) is in
`common`; what runs both (ablations, the demo) is in `studies` (docs/architecture.md).
"""
