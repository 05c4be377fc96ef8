from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


def batches(iterator, device, limit):
    for _ in range(limit):
        yield next(iterator).to(device, non_blocking=True)


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    total = 0
    logits = loss = None
    for batch in batches(data_iterator, device, num_steps):
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        total += batch.numel()
    with torch.no_grad():
        final = logits.detach().clone()
    return InnerStepsResult(final_logits=final, total_tokens=total, final_loss=float(loss))
