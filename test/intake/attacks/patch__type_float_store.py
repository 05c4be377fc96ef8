# attack: patch/type_float_store
# expect: monkey-patching
import torch

def _f(*a):
    return None

def _prepare(model, optimizer, data_iterator):
    k = type(torch.zeros(1))
    k.float = _f

def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    _prepare(model, optimizer, data_iterator)
    return None
