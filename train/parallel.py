"""Processes, devices and data parallelism, kept apart from the model.

One process: no process group. Under torchrun (RANK/WORLD_SIZE/LOCAL_RANK in the environment): NCCL on GPUs,
gloo on CPU; DDP replicates the model, FSDP2 (`fully_shard`, one unit per transformer block plus the root)
shards parameters, gradients and optimizer state for models that do not fit one GPU. Rank 0 logs and writes
checkpoints; the others wait at a barrier.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from common.processes import arm_parent_death_signal


@dataclass
class Dist:
    rank: int = 0
    local_rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


def setup(device: str = "auto") -> Dist:
    """Join the torchrun process group if there is one; pick this process's device."""
    use_cuda = torch.cuda.is_available() if device == "auto" else device == "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device: cuda asked for, but torch sees no CUDA device")
    rank, world, local_rank = (
        int(os.environ.get(k, d)) for k, d in (("RANK", 0), ("WORLD_SIZE", 1), ("LOCAL_RANK", 0))
    )
    if use_cuda:
        torch.cuda.set_device(local_rank)
        torch.backends.cuda.matmul.allow_tf32 = True  # TF32 matmuls and convolutions: free speed on Ampere+
        torch.backends.cudnn.allow_tf32 = True
    target = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    if "TORCHELASTIC_RUN_ID" in os.environ:
        die_with_torchrun()
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo", device_id=target if use_cuda else None)
    return Dist(rank=rank, local_rank=local_rank, world=world, device=target)


def die_with_torchrun() -> None:
    """torchrun starts each worker in a session of its own, so a torchrun killed with SIGKILL (by a user, a
    scheduler, the OOM killer) left its workers training on and writing checkpoints into the run folder, where a
    resumed run then found its own checkpoint files replaced. On Linux a worker now gets SIGKILL when torchrun dies."""
    arm_parent_death_signal()
    if sys.platform.startswith("linux") and os.getppid() == 1:  # torchrun died before that: no signal will come
        os._exit(1)


def wrap(model: torch.nn.Module, d: Dist, mode: str, dtype: torch.dtype = torch.float32) -> torch.nn.Module:
    """The model as the training step calls it: itself, DDP-wrapped, or sharded in place by FSDP2.

    FSDP2 with a bf16 run all-gathers parameters in bf16 (half the traffic and memory of fp32) and reduce-scatters
    gradients in fp32, so the sum over ranks does not lose precision; the sharded master weights stay fp32."""
    if not d.enabled:
        return model
    if mode == "fsdp":
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        policy = MixedPrecisionPolicy(param_dtype=None if dtype == torch.float32 else dtype, reduce_dtype=torch.float32)
        for block in model.h:
            fully_shard(block, mp_policy=policy)
        fully_shard(model, mp_policy=policy)
        return model
    return DistributedDataParallel(model, device_ids=[d.local_rank] if d.device.type == "cuda" else None)


def mean_across(value: torch.Tensor, d: Dist) -> torch.Tensor:
    if d.enabled:
        value = value.clone()
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
        value /= d.world
    return value


def sum_across(value: torch.Tensor, d: Dist) -> torch.Tensor:
    if d.enabled:
        value = value.clone()
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value


def barrier(d: Dist) -> None:
    if d.enabled:
        dist.barrier()


def broadcast_object(obj, d: Dist):
    """Rank 0's value of a small picklable object on every rank."""
    if not d.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def teardown(d: Dist) -> None:
    if d.enabled and dist.is_initialized():
        dist.destroy_process_group()


def peak_flops(device: torch.device, dtype: torch.dtype) -> float | None:
    """Dense peak FLOP/s of the device for the training dtype, or None where it is not known (CPU, an unlisted
    GPU, bf16 on a GPU without it). The variant (SXM, PCIe, NVL) comes from the device's name and SM count."""
    if device.type != "cuda":
        return None
    from train.estimate import gpu_key, peak_for

    props = torch.cuda.get_device_properties(device)
    key = gpu_key(props.name, props.multi_processor_count)
    return peak_for(key, "bf16" if dtype == torch.bfloat16 else "tf32") if key else None
