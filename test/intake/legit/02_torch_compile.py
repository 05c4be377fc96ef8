from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


def _loss_fn(logits, labels):
    return F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten())


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    compiled = torch.compile(model, mode="max-autotune-no-cudagraphs", dynamic=False)
    loss_fn = torch.compile(_loss_fn)
    tokens = 0
    last_logits, last_loss = None, None
    for step in range(num_steps):
        input_ids = next(data_iterator).to(device, non_blocking=True)
        logits = compiled(input_ids[:, :-1])
        loss = loss_fn(logits, input_ids[:, 1:])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        tokens += input_ids.numel()
        last_logits, last_loss = logits, loss
    return InnerStepsResult(last_logits.detach(), tokens, last_loss.item())
