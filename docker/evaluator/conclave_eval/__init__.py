"""Conclave evaluator: the trusted code that runs inside the sandbox image.

supervisor.py (PID 1, never imports torch or submission code) starts worker.py in a child process,
timestamps its progress frames with its own clock, and writes the result files only after every other
process in the container is dead. The worker builds the policy's model, runs the reference loop or the
miner's inner_steps, and streams observations and captured tensors to the supervisor over a pipe.
"""
