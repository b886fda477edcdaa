"""dl2: a Lightning + Hydra framework that reruns a four-part deep-learning study."""

from dl2.resolvers import register_resolvers

__version__ = "0.1.0"

register_resolvers()
