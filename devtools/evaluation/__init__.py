"""Quality evaluation (`make eval`): the product's own pipeline functions, and the tools a
user would pick instead, run on the labeled public data sets; see report.py for the output."""
