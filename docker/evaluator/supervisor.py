# Container entrypoint (PID 1): a launcher, so that the supervisor itself runs from the image's byte-compiled
# modules (a script given to python is compiled from source at every start). See conclave_eval/supervise.py.
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conclave_eval.supervise import main  # noqa: E402

main()
