"""Pure decisions: (spec, status, observed, now) -> actions and new status. No I/O."""
