from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


class Prefetcher:
    """Copies the next batch to the device while the current one trains."""

    def __init__(self, iterator, device):
        self.iterator = iterator
        self.device = device
        self.next_batch = None
        self.preload()

    def preload(self):
        try:
            batch = next(self.iterator)
        except StopIteration:
            self.next_batch = None
            return
        pin = batch.pin_memory() if torch.cuda.is_available() else batch
        self.next_batch = pin.to(self.device, non_blocking=True)

    def take(self):
        batch = self.next_batch
        self.preload()
        return batch


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    loader = Prefetcher(data_iterator, device)
    tokens = 0
    logits = loss = None
    for _ in range(num_steps):
        batch = loader.take()
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        tokens += batch.numel()
    return InnerStepsResult(logits.detach(), tokens, loss.item())
