"""zones faults (implementations register themselves with harness.faults.base.register)."""

from __future__ import annotations
