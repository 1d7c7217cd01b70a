"""Pure rules and values: no I/O, no imports of other layers."""
