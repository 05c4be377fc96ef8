"""References the trusted code uses, bound once in the fork server before any submission exists.

Every worker is forked from that process, so these are the original objects even when the submission
later replaces torch.optim.AdamW, torch.Tensor.detach, time.perf_counter or anything else by name:
model, optimizer and data are built, and results captured, through these and never by a name lookup
the submission can redirect. (A submission can still reach and corrupt them through memory; then what
the capture produces is wrong, and everything it produces is compared against the reference outside.)
"""
import hashlib
import os
import socket
import time

import torch
import torch.nn.functional as F

perf = time.perf_counter
mono = time.monotonic
clock_gettime = time.clock_gettime
CLOCK_RAW = time.CLOCK_MONOTONIC_RAW
os_read = os.read
os_exit = os._exit
sha256 = hashlib.sha256
sock_send = socket.socket.send
torch_version = torch.__version__

Tensor = torch.Tensor
Parameter = torch.nn.Parameter
device = torch.device
float32 = torch.float32
float64 = torch.float64
long = torch.long
detach = Tensor.detach
to = Tensor.to
clone = Tensor.clone
contiguous = Tensor.contiguous
reshape = Tensor.reshape
view = Tensor.view
numel = Tensor.numel
t_float = Tensor.float
t_sum = Tensor.sum
t_ne = Tensor.ne
item = Tensor.item
numpy = Tensor.numpy
t_t = Tensor.t
register_hook = Tensor.register_hook
mv = torch.mv
zeros = torch.zeros
randint = torch.randint
isfinite = torch.isfinite
Generator = torch.Generator
manual_seed = torch.Generator.manual_seed
autocast = torch.autocast
no_grad = torch.no_grad
cross_entropy = F.cross_entropy
set_num_threads = torch.set_num_threads
AdamW = torch.optim.AdamW
adamw_step = torch.optim.AdamW.step
optimizer_zero_grad = torch.optim.Optimizer.zero_grad
optimizer_state_dict = torch.optim.Optimizer.state_dict
module_named_parameters = torch.nn.Module.named_parameters
cuda_synchronize = torch.cuda.synchronize
object_getattribute = object.__getattribute__
object_setattr = object.__setattr__
tuple_getitem = tuple.__getitem__
dict_get = dict.get
_C = torch._C


def _bind(owner, *names):
    for n in names:
        f = getattr(owner, n, None)
        if f is not None:
            return f
    return None


# backend state, read through the C getters (a replaced torch.backends attribute does not change them)
get_num_threads = torch.get_num_threads
is_grad_enabled = torch.is_grad_enabled
deterministic = torch.are_deterministic_algorithms_enabled
get_default_dtype = torch.get_default_dtype
matmul_precision = _bind(torch, 'get_float32_matmul_precision')
cudnn_enabled = _bind(_C, '_get_cudnn_enabled')
cudnn_benchmark = _bind(_C, '_get_cudnn_benchmark')
cudnn_deterministic = _bind(_C, '_get_cudnn_deterministic')
cudnn_tf32 = _bind(_C, '_get_cudnn_allow_tf32')
cublas_tf32 = _bind(_C, '_get_cublas_allow_tf32')
cublas_fp16_reduction = _bind(_C, '_get_cublas_allow_fp16_reduced_precision_reduction')
cublas_bf16_reduction = _bind(_C, '_get_cublas_allow_bf16_reduced_precision_reduction')
mkldnn_enabled = _bind(_C, '_get_mkldnn_enabled')
flash_sdp = _bind(_C, '_get_flash_sdp_enabled')
mem_efficient_sdp = _bind(_C, '_get_mem_efficient_sdp_enabled')
math_sdp = _bind(_C, '_get_math_sdp_enabled')

# autocast state of a device type (torch >= 2.4 takes the device type; 1.13 has per-device functions)
_autocast_dtype_new = _bind(torch, 'get_autocast_dtype')
_autocast_enabled = torch.is_autocast_enabled
_autocast_cpu_enabled = _bind(torch, 'is_autocast_cpu_enabled')
_autocast_cpu_dtype = _bind(torch, 'get_autocast_cpu_dtype')
_autocast_gpu_dtype = _bind(torch, 'get_autocast_gpu_dtype')


def autocast_state(device_type):
    """The autocast dtype in effect for device_type ('bfloat16', 'float16'), or None when autocast is off."""
    if _autocast_dtype_new is not None:
        on = _autocast_enabled(device_type)
        dtype = _autocast_dtype_new(device_type) if on else None
    elif device_type == 'cuda':
        on = _autocast_enabled()
        dtype = _autocast_gpu_dtype() if on else None
    else:
        on = _autocast_cpu_enabled()
        dtype = _autocast_cpu_dtype() if on else None
    return str(dtype).replace('torch.', '') if on else None


_CLOCK_BRACKET_SEC = 0.0005
_CLOCK_TRIES = 20


def read_clocks():
    """[perf_counter, monotonic, CLOCK_MONOTONIC_RAW] read as close together as we can manage.

    On a loaded host the process can be preempted between two reads, and the clocks then look as if
    they disagree by a whole time slice. Each try is bracketed by a second perf_counter read; the first
    tight bracket is kept (else the tightest of a bounded number of tries)."""
    best, best_width = None, None
    for _ in range(_CLOCK_TRIES):
        a = perf()
        reading = [a, mono(), clock_gettime(CLOCK_RAW)]
        width = perf() - a
        if best_width is None or width < best_width:
            best, best_width = reading, width
        if width <= _CLOCK_BRACKET_SEC:
            break
    return best
