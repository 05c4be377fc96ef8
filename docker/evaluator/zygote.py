# The fork server (started by supervisor.py with its control socket's fd and its setup as arguments).
import json
import os
import sys

sys.dont_write_bytecode = True  # read-only root; and the submission gets no writable __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conclave_eval.zygote import main  # noqa: E402

main(int(sys.argv[1]), json.loads(sys.argv[2]))
