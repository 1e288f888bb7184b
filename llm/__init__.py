"""Model access only: the embedding and generative models behind small interfaces."""

import os

# llama.cpp's OpenMP threads spin while they wait by default; on a machine with a few
# cores shared with the web app and the embedder that made evaluation about 3 times slower
# (docs/research/sentiment.md). It must be set before the OpenMP runtime loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
