"""`golive` subcommands, one module each; every subcommand module exposes `register(subparsers)`
(`common.py` and `manifest_inputs.py` are helpers they share)."""
