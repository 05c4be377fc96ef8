# Launcher of the worker process (started by supervisor.py with the pipe fd and the job as arguments).
import os
import sys

sys.dont_write_bytecode = True  # read-only root; and the submission gets no writable __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conclave_eval.worker import main  # noqa: E402

main()
