"""Multi-GPU aware but single process here: torch.distributed guards, all_reduce only when initialised,
cuda streams guarded by availability, and random/np seeding helpers."""
import random
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


def _world():
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def _mean(t):
    if _world() > 1:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        t = t / _world()
    return t


def _seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    _seed_everything(0)
    stream = torch.cuda.Stream() if torch.cuda.is_available() and str(device).startswith("cuda") else None
    logits = loss = None
    tokens = 0
    for _ in range(num_steps):
        batch = next(data_iterator).to(device, non_blocking=stream is not None)
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        tokens += batch.numel() * num_gpus
    final = _mean(loss.detach())
    return InnerStepsResult(final_logits=logits.detach(), total_tokens=tokens, final_loss=final.item())
