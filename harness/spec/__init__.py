"""The experiment spec: YAML files become typed, frozen models here, or every problem is reported
with file, line, field and a hint. ``loader`` (load, validate, JSON Schema), ``models``, ``kinds`` and
``registry`` (kind-keyed items), ``sli`` (the SLI grammar), ``steps`` (journeys' declared steps),
``targets``, ``checks`` (cross-item rules), ``errors``, ``fieldtypes`` and ``yamldoc``.

Nothing here touches a cluster. This package init imports nothing, so the fault and probe parameter
modules can import ``harness.spec.registry`` and ``harness.spec.fieldtypes`` without a cycle; import
the loader as ``from harness.spec.loader import load_experiment``.
"""
