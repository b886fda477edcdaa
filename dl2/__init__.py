"""dl2: a Lightning + Hydra framework that reruns a four-part deep-learning study."""

from dl2.config.resolvers import register_resolvers
from dl2.config.schema import register_schemas

__version__ = "0.1.0"

register_resolvers()
register_schemas()
