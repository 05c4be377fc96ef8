from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    maybe_compile = getattr(torch, "compile", None)
    runner = maybe_compile(model) if maybe_compile is not None and hasattr(torch, "compile") else model
    tokens = 0
    logits = loss = None
    for _ in range(num_steps):
        batch = next(data_iterator).to(device)
        logits = runner(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        tokens += batch.numel()
    return InnerStepsResult(logits.detach(), tokens, loss.item())


if __name__ == "__main__":
    print("run me through the validator's harness")
