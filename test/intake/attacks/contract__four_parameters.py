# expect: entrypoint
# Dropping more than the optional trailing num_gpus is not a known signature.
import torch.nn.functional as F


def inner_steps(model, data_iterator, optimizer, num_steps):
    logits = loss = None
    tokens = 0
    for _ in range(num_steps):
        batch = next(data_iterator)
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        tokens += batch.numel()
    return logits.detach(), tokens, loss.item()
