"""Model access only: the embedding and generative models behind small interfaces.

llama.cpp's OpenMP threads keep OpenMP's default wait policy (spin briefly, then sleep).
Measured on 2 cores (docs/benchmarks.md, 2026-12-02): sentiment scoring 16 items a second
and generation 44 tokens a second with it, against 11 and 25 with OMP_WAIT_POLICY=PASSIVE.
Where the worker shares its cores with other busy processes, spinning threads fight them
(3 items a second against 9.5 with PASSIVE beside two busy loops): set
OMP_WAIT_POLICY=PASSIVE in the worker's environment there.
"""
