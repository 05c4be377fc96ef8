"""Devnet miner 0 (honest, unhurried): a small trainer class that also burns time on a redundant
side computation every step. Correct, so it is scored, but slower than miner 1."""
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


class SlowTrainer:
    def __init__(self, model, optimizer, device):
        self.model = model
        self.optimizer = optimizer
        self.device = device
        self.seen = 0
        self.scratch = torch.full((256, 256), 0.5)

    def busy_work(self):
        acc = self.scratch
        for _ in range(48):
            acc = torch.tanh(acc @ self.scratch) * 0.01
        return float(acc.sum())

    def train_on(self, batch):
        batch = batch.to(self.device)
        out = self.model(batch[:, :-1])
        width = out.shape[-1]
        objective = F.cross_entropy(out.reshape(-1, width), batch[:, 1:].reshape(-1))
        objective.backward()
        self.optimizer.step()
        self.optimizer.zero_grad()
        self.seen += batch.numel()
        self.busy_work()
        return out, objective


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    trainer = SlowTrainer(model, optimizer, device)
    out = objective = None
    for _ in range(num_steps):
        out, objective = trainer.train_on(next(data_iterator))
    return InnerStepsResult(final_logits=out.detach(), total_tokens=trainer.seen, final_loss=objective.item())
