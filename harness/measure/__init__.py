"""What shoppers saw, and what it means: the per-second timeline and its histograms (``timeline``,
``histogram``), the SLI grammar and accumulators (``sli``), per-second judgements with detection and
recovery (``judge``), SLO windows and verdicts (``slo``), the abort guards (``guards``), the error
budget (``budget``) and what each step and probe saw per phase (``breakdown``).

Pure code over timeline values: of the rest of the harness it may import only the layers below it
(`harness.events`, `harness.errors` and the helpers `aio`, `retry`, `selectors`), never `journal` or
anything above it, even indirectly (its own contract), so the same numbers are computed live at the end
of a run and later from a run folder alone. The README's "Measurement" section states the definitions
this package implements.
"""
