"""seqctl: sales and follow-up sequences as code."""

__version__ = "0.1.0"
