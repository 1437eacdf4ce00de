"""GPT pre-training on curated token shards (imports only torch, numpy, pyyaml and the standard library).

`train.format` and `train.mix` need numpy and pyyaml only, so `curate` can import them without torch.
"""


def demo_run(manifest_path, out_dir, steps: int = 200, log=print) -> dict:
    """A short CPU training run on a manifest's shards; see train.trainer.demo_run."""
    from train.trainer import demo_run as run
    return run(manifest_path, out_dir, steps=steps, log=log)
