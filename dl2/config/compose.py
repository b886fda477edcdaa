"""Many jobs' configs composed at the cost of a few: what planning a study needs.

Most of Hydra's time composing a config goes to resolving the defaults list (the config-group
choices). Settings that differ only in plain `a.b=value` overrides share that
list, so each distinct set of group choices is composed once by Hydra, and the plain overrides
are then set in a copy as Hydra sets them after composing (`OmegaConf.update(..., merge=True)`
on the struct config). A study's settings then cost a few compositions, not one each.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import ConfigCompositionException, HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

from dl2.errors import ConfigValueError


class OverrideError(ConfigValueError, ConfigCompositionException):
    """An override the config cannot take, named with key, value and why: Hydra's own
    composition error, in dl2's one-line form."""


def is_plain(override: str) -> bool:
    """A `a.b=value` override that only sets a value in the composed config: no config-group
    choice, no `+`/`~`, nothing of Hydra's own."""
    key = override.partition("=")[0]
    return "." in key and not key.startswith(("+", "~", "hydra."))


class Composer:
    """Composes `config_name` from `conf` with a list of overrides, sharing the Hydra
    composition between lists with the same non-plain overrides (for this object's life:
    conf/ is not expected to change meanwhile)."""

    def __init__(self, conf: Path | None, config_name: str = "train") -> None:
        """`conf`: the config folder; None composes with the running Hydra app's search path
        (inside a Hydra callback)."""
        self.conf, self.config_name = conf, config_name
        self._bases: dict[tuple[str, ...], DictConfig] = {}
        self._parser = OverridesParser.create()

    def compose_all(self, settings: Iterable[tuple[str, ...]]) -> dict[tuple[str, ...], DictConfig]:
        """{overrides: the composed config} for each list of overrides."""
        settings = list(dict.fromkeys(settings))
        bases = {tuple(o for o in s if not is_plain(o)) for s in settings} - set(self._bases)
        if bases and self.conf is None:
            self._compose(bases)
        elif bases:
            GlobalHydra.instance().clear()
            try:
                with initialize_config_dir(config_dir=str(self.conf), version_base="1.3"):
                    self._compose(bases)
            finally:
                GlobalHydra.instance().clear()
        return {s: self._with_plain(s) for s in settings}

    def _compose(self, bases: set[tuple[str, ...]]) -> None:
        for base in sorted(bases):
            try:
                self._bases[base] = compose(self.config_name, overrides=list(base))
            except HydraException as err:  # an unknown option or key
                reason = " ".join(str(err).split("Config search path")[0].split())
                raise OverrideError("overrides", " ".join(base), reason) from None

    def _with_plain(self, setting: tuple[str, ...]) -> DictConfig:
        cfg = copy.deepcopy(self._bases[tuple(o for o in setting if not is_plain(o))])
        for override in self._parser.parse_overrides([o for o in setting if is_plain(o)]):
            key = override.key_or_group
            try:
                OmegaConf.update(cfg, key, override.value(), merge=True)
            except (ConfigAttributeError, ConfigKeyError):
                choices = " ".join(o for o in setting if not is_plain(o))
                raise OverrideError(
                    key,
                    override.value(),
                    f"the config of {choices} has no "
                    f"such key (a new key is added with "
                    f"+{override.input_line})",
                ) from None
            except OmegaConfBaseException as err:
                raise OverrideError(
                    key, override.value(), " ".join(str(err).split()[:30])
                ) from None
        return cfg
