# attack: torch/compile_options_compiler
# expect: torch-internals
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


def _prepare(model, optimizer, data_iterator):
    # inductor runs the configured C++ compiler command
    return torch.compile(model, options={"cpp.cxx": ("sh", "-c", "id")})


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
