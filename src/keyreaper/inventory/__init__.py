"""The credential inventory: import from files, store, list and look up."""
