"""Run configuration: :class:`RunConfig`, the one schema of a run, and :func:`build`, which turns one into the
data, network, rule, optimizer and loss. Below both the command line (:mod:`nnlite.cli`, which turns flags into a
``RunConfig``) and the experiments (:mod:`nnlite.experiments`, whose spec rows are ``RunConfig`` fields by name);
it imports neither.
"""

from .builders import Built, build, fit_config, load_data, stream_seeds
from .schema import ConfigError, Option, RunConfig, check_combination, options

__all__ = [
    "Built",
    "ConfigError",
    "Option",
    "RunConfig",
    "build",
    "check_combination",
    "fit_config",
    "load_data",
    "options",
    "stream_seeds",
]
