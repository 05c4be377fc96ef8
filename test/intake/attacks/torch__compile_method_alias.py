# attack: torch/compile_method_alias
# expect: torch-internals
# an alias of model.compile called with a mapping: no keyword to see at the call
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


def _backend(gm, example_inputs):
    return gm.forward


def _prepare(model, optimizer, data_iterator):
    c = model.compile
    kw = dict(backend=_backend)
    c(**kw)


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
