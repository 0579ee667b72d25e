"""keyreaper: measure, don't believe — credential-leak response from inventory to verified death."""

__all__ = ["__version__"]
__version__ = "0.1.0"
