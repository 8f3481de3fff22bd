"""What shoppers saw, and what it means: the per-second timeline and its histograms (``timeline``,
``histogram``), the SLI grammar and accumulators (``sli``), per-second judgements with detection and
recovery (``judge``), SLO windows and verdicts (``slo``) and the error budget (``budget``).

Pure code over timeline values: it may import nothing of the harness outside this package, so the
same numbers are computed live at the end of a run and later from a run folder alone. The README's
"Measurement" section states the definitions this package implements.
"""
