"""The plan stage: what an experiment will do, said before anything is touched.

`faults` builds each fault step's implementation and asks it what it would hit (targets, blast radius,
refusals); `schedule` turns the timeline into plain text (action times, phases, what each SLO needs to
be judged); `environment` describes the target a run acts on. It may import the layers below it (report,
load, faults, probes, clients, spec, measure and the shared utilities); only the run and the CLI import
it.
"""
