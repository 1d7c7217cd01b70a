"""One folder per technology, each implementing ports/ (docs/architecture.md)."""
