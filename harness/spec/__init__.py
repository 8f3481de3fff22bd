"""The experiment spec: YAML files become typed, frozen models here, or every problem is reported
with file, line, field and a hint. ``loader`` (load, validate, JSON Schema), ``models``, ``kinds`` and
``registry`` (kind-keyed items; the ``FAULTS`` and ``PROBES`` registries), ``params`` (the bases of
every kind's parameters), ``sli`` (SLI fields; the grammar itself is ``harness.measure.sli``), ``steps``
(journeys' declared steps), ``targets``, ``checks`` (cross-item rules), ``errors``, ``fieldtypes`` and
``yamldoc``.

Nothing here touches a cluster. Imports go one way: fault and probe kinds import the spec and register
into its registries; the spec never imports ``harness.faults`` or ``probes`` (the registries load
them by name on first use, see ``harness.spec.registry``). It may import ``harness.measure`` and the
shared utilities below it (``journal``, ``aio``, ``retry``, ``selectors``, ``events``, ``errors``). This
package init imports nothing; import the loader as ``from harness.spec.loader import load_experiment``.
"""
