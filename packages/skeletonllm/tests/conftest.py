import os

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# One intra-op thread: on a shared 2-core machine two OpenMP threads oversubscribe and run several times
# slower than one.
torch.set_num_threads(1)
