"""Exposures: intake of HAR files, breach lists and scanner findings; matching to the
inventory; use after exposure; the HAR sanitizer."""
