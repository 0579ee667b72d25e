"""Hunting: indicators, Sigma rules, hunt packs, persistence sweep, coverage and timeline."""
