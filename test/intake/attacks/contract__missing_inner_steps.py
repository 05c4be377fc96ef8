# attack: contract/missing_inner_steps
# expect: entrypoint
import torch


def train(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    return None
