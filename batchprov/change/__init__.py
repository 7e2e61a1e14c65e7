"""Changes to numbers already bought, made exactly once: updates (PUT) and releases (DELETE).

`route` reads a number's call route as a sheet's columns and makes the body of an update;
`apply` sends changes under the purchase protocol (intent, outcome, verify before re-sending);
`update` finds the rows of a run whose number differs from the sheet (``run --update``).
"""
