from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float

from contextlib import nullcontext
import warnings


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    warnings.filterwarnings("ignore", category=UserWarning)
    ctx = torch.autocast("cuda", dtype=torch.bfloat16) if torch.cuda.is_available() else nullcontext()
    tokens = 0
    logits = loss = None
    for _ in range(num_steps):
        batch = next(data_iterator).to(device)
        with ctx:
            logits = model(batch[:, :-1])
            loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        tokens += batch.numel()
    return InnerStepsResult(final_logits=logits.detach(), total_tokens=tokens, final_loss=loss.item())
