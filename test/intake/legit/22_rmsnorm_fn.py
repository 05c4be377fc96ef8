from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float

import math


class RMSNormFn(torch.autograd.Function):
    """Custom RMS norm used on the logits before the loss, with a hand-written backward."""

    @staticmethod
    def forward(ctx, x, eps):
        rms = torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
        ctx.save_for_backward(x, rms)
        return x * rms

    @staticmethod
    def backward(ctx, grad):
        x, rms = ctx.saved_tensors
        n = x.shape[-1]
        dx = rms * (grad - x * rms.pow(2) * (grad * x).sum(-1, keepdim=True) / n)
        return dx, None


def cosine_weight(step, total):
    return 0.5 * (1 + math.cos(math.pi * step / max(1, total)))


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    tokens = 0
    logits = loss = None
    for step in range(num_steps):
        batch = next(data_iterator).to(device)
        logits = model(batch[:, :-1])
        aux = RMSNormFn.apply(logits.detach().float().requires_grad_(), 1e-6).mean() * 0.0
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1))
        (loss + aux * cosine_weight(step, num_steps)).backward()
        optimizer.step()
        optimizer.zero_grad()
        tokens += batch.numel()
    return InnerStepsResult(final_logits=logits.detach(), total_tokens=tokens, final_loss=loss.item())
