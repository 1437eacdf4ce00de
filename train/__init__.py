"""GPT pre-training on curated token shards (imports only torch, numpy, pyyaml and the standard library).

`train.format` and `train.mix` need numpy and pyyaml only, so `curate` can import them without torch.
"""
