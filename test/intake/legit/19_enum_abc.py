from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float

import enum
from abc import ABC, abstractmethod


class Precision(enum.Enum):
    FP32 = "fp32"
    BF16 = "bf16"


class LossStrategy(ABC):
    @abstractmethod
    def __call__(self, logits, labels):
        raise NotImplementedError


class CrossEntropyStrategy(LossStrategy):
    def __call__(self, logits, labels):
        return F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), labels.reshape(-1))


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    precision = Precision.BF16 if torch.cuda.is_available() else Precision.FP32
    strategy = CrossEntropyStrategy()
    tokens = 0
    logits = loss = None
    for _ in range(num_steps):
        batch = next(data_iterator).to(device)
        with torch.autocast(device_type=batch.device.type, dtype=torch.bfloat16, enabled=precision is Precision.BF16):
            logits = model(batch[:, :-1])
        loss = strategy(logits, batch[:, 1:])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        tokens += batch.numel()
    return InnerStepsResult(logits.float().detach(), tokens, loss.item())
