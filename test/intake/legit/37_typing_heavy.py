"""Heavily annotated code: TypeVar, Generic, Callable, Union/Optional, forward references as strings,
typing.cast, overload-free generics and a dataclass with ClassVar."""
from dataclasses import dataclass
from typing import Callable, ClassVar, Generic, List, Optional, TypeVar, Union, cast

import torch
import torch.nn.functional as F

T = TypeVar("T")
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float
    VERSION: ClassVar[int] = 1


class Box(Generic[T]):
    def __init__(self, value: T) -> None:
        self.value = value

    def get(self) -> T:
        return self.value

    def replace(self, value: T) -> "Box[T]":
        return Box(value)


def _ce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1))


def _run(model: torch.nn.Module, batch: torch.Tensor, loss_fn: LossFn) -> "tuple[torch.Tensor, torch.Tensor]":
    logits = model(batch[:, :-1])
    return logits, loss_fn(logits, batch[:, 1:])


def inner_steps(model, data_iterator, optimizer, num_steps: int, device: Union[str, torch.device], num_gpus: int = 1) -> InnerStepsResult:
    history: List[float] = []
    last: Optional[Box["torch.Tensor"]] = None
    tokens = 0
    loss = None
    for _ in range(num_steps):
        batch = cast(torch.Tensor, next(data_iterator)).to(device)
        logits, loss = _run(model, batch, _ce)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        last = Box(logits)
        history.append(float(loss))
        tokens += batch.numel()
    assert last is not None
    return InnerStepsResult(final_logits=last.get().detach(), total_tokens=tokens, final_loss=history[-1])
