# attack: patch/numpy_repr_hook
# expect: monkey-patching
from dataclasses import dataclass

import torch
import torch.nn.functional as F
import numpy as np


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


def _hook(a):
    return "array"


def _prepare(model, optimizer, data_iterator):
    # runs whenever the evaluator prints an array, after the timed window
    np.set_string_function(_hook)


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    _prepare(model, optimizer, data_iterator)
    total = 0
    logits = loss = None
    for _ in range(num_steps):
        batch = next(data_iterator).to(device)
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        total += batch.numel()
    return InnerStepsResult(final_logits=logits.detach(), total_tokens=total, final_loss=loss.item())
