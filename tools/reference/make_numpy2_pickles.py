#!/usr/bin/env python3
"""numpy 2.x pickles of np.random.RandomState, for tests/test_io_pickle.cpp.

Debian's numpy is 1.x, so these are written by numpy 2 from PyPI in a throw-away venv:
    python3 -m venv /tmp/np2 && /tmp/np2/bin/pip install 'numpy>=2'
    /tmp/np2/bin/python tools/reference/make_numpy2_pickles.py [out_dir]
(default out_dir: tests/fixtures/pickle). Then run make_pickle_fixtures.py with Debian's
python: it splices random_state_np2_nomemo.pkl into a torch.save checkpoint.

  random_state_np2.pkl         pickle.dumps(RandomState(0) after 3 normal draws, protocol 2)
  random_state_np2_nomemo.pkl  the same with the pickler's memo off (no PUT/GET opcodes), so its
                               body can sit inside another pickle stream unchanged
"""
import io
import os
import pickle
import sys

import numpy as np

assert int(np.__version__.split(".")[0]) >= 2, "run this with numpy 2.x, not " + np.__version__
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "pickle")


def state():
    r = np.random.RandomState(0)
    r.standard_normal(3)  # leaves a cached Gaussian: has_gauss = 1
    return r


with open(os.path.join(OUT, "random_state_np2.pkl"), "wb") as f:
    pickle.dump(state(), f, protocol=2)
buf = io.BytesIO()
p = pickle.Pickler(buf, protocol=2)
p.fast = True  # no memo
p.dump(state())
with open(os.path.join(OUT, "random_state_np2_nomemo.pkl"), "wb") as f:
    f.write(buf.getvalue())
print("numpy", np.__version__, "->", OUT)
