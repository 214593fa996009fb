"""The pure core: plain data and functions, no I/O (``tests/unit/test_core_purity.py`` keeps it so)."""
