"""Helper classes storing every argument on self (public and private), methods named like builtins
(len, iter, next, print, format, filter, map, type, id), a __call__ step object and __iter__ wrapper."""
import itertools

import torch
import torch.nn.functional as F


class InnerStepsResult:
    def __init__(self, final_logits, total_tokens, final_loss):
        self.final_logits = final_logits
        self.total_tokens = total_tokens
        self.final_loss = final_loss


class Batches:
    def __init__(self, it, device, limit):
        self.it = it
        self._device = device
        self._limit = limit
        self._seen = 0

    def __iter__(self):
        return self

    def __next__(self):
        if self._seen >= self._limit:
            raise StopIteration
        self._seen += 1
        return next(self.it).to(self._device)

    def __len__(self):
        return self._limit

    def len(self):
        return self._seen

    def type(self):
        return "lm"

    def id(self):
        return 0


class Step:
    def __init__(self, model, optimizer, loss_fn=F.cross_entropy):
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self._last = None

    def __call__(self, batch):
        logits = self.model(batch[:, :-1])
        loss = self.loss_fn(logits.reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1))
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad()
        self._last = (logits, loss)
        return self._last

    def print(self, *parts):
        return " ".join(str(p) for p in parts)

    def format(self, x):
        return "{:.3f}".format(x)

    def filter(self, xs):
        return [x for x in xs if x is not None]

    def map(self, fn, xs):
        return [fn(x) for x in xs]

    def next(self):
        return self._last


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    batches = Batches(data_iterator, device, num_steps)
    step = Step(model, optimizer)
    tokens = 0
    for batch in itertools.islice(batches, num_steps):
        step(batch)
        tokens += batch.numel()
    logits, loss = step.next()
    _ = step.format(loss.item()), step.print("done", batches.len()), step.filter([1, None]), step.map(abs, [-1])
    return InnerStepsResult(logits.detach(), tokens, loss.item())
