"""A trainer object that keeps its state in private attributes, a base class initialised explicitly,
methods named like built-in functions (step, sum, format, eval, max), a classmethod reading class state, and the
optimizer held in containers but only stepped."""
from dataclasses import dataclass, field
from typing import Dict, List

import torch
import torch.nn.functional as F


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


class _Counter:
    _instances = 0

    def __init__(self, start=0):
        self._value = start
        type(self)._bump()

    @classmethod
    def _bump(cls):
        cls._instances = cls._instances + 1

    def add(self, n):
        self._value += n
        return self._value

    def sum(self):
        return self._value

    def max(self, other):
        return self._value if self._value > other else other


class _Base:
    def __init__(self, device):
        self._device = device

    def format(self, value):
        return "%.4f" % value


class Trainer(_Base):
    def __init__(self, model, optimizer, device, clip=1.0):
        _Base.__init__(self, device)
        self._model = model
        self._optimizers: Dict[str, object] = {"main": optimizer}
        self._all = [optimizer]
        self._clip = clip
        self._history: List[float] = []
        self._tokens = _Counter()

    def eval(self, batch):
        with torch.no_grad():
            return self._model(batch[:, :-1])

    def step(self, batch):
        batch = batch.to(self._device)
        logits = self._model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self._model.parameters(), self._clip)
        self._optimizers["main"].step()
        for opt in self._all:
            opt.zero_grad()
        self._tokens.add(batch.numel())
        self._history.append(loss.item())

        def last():
            return self._history[-1]
        return logits, last()

    @property
    def tokens(self):
        return self._tokens.sum()


@dataclass
class _Log:
    entries: List[str] = field(default_factory=list)

    def note(self, trainer, value):
        self.entries.append("loss=" + trainer.format(value))


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    trainer = Trainer(model, optimizer, device)
    log = _Log()
    logits, loss = None, 0.0
    for _ in range(num_steps):
        logits, loss = trainer.step(next(data_iterator))
        log.note(trainer, loss)
    return InnerStepsResult(final_logits=logits.detach(), total_tokens=trainer.tokens, final_loss=float(loss))
