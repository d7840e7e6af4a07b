"""What students run: the in-notebook checker, the generated notebooks and the handout."""
