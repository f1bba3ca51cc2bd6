"""A stand-in for a monitored service ("Hunter"), so checks, demos and tests hit real HTTP.

`serve_target()` runs it on a free loopback port; its `.state` switches it between healthy,
degraded, down, slow, rate-limited and erroring at run time.
"""

from bot.demo.server import DemoServer, serve_target
from bot.demo.target import MODES, TargetState, create_app

__all__ = ["MODES", "DemoServer", "TargetState", "create_app", "serve_target"]
