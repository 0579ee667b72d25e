"""Proven last use: attestations computed from the event store, and their storage."""
