"""The demo: deterministic feedback for a fictional budgeting app with its ground truth
(generator.py), and loading it with a login per role (load.py) for `make demo`."""
