"""The plan stage: what an experiment will do, said before anything is touched.

`faults` builds each fault step's implementation and asks it what it would hit (targets, blast radius,
refusals); `schedule` turns the timeline into plain text (action times, phases, what each SLO needs to be
judged). It may import spec, measure and faults; only the run and the CLI import it.
"""
