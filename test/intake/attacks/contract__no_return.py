# attack: contract/no_return
# expect: entrypoint
import torch


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    for _ in range(num_steps):
        optimizer.step()
