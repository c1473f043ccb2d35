"""Shekara: an auditing proxy that measures which personal data leaves Kazakhstan.

The repository keeps each pipeline stage in its own top-level folder
(``audit/``, ``addons/``, ``geo/``, ``evidence/``, ``proxy/``, ``api/``,
``rulesets/``); packaging maps them under this one import name so that the
installed distribution claims a single top-level module.
"""

__version__ = "0.1.0"
