"""Teach transformers' Auto classes the ``neuronarrator`` model type without importing anything.

``AutoConfig.register(...)`` and friends need the classes themselves, so the package used to import
the model (transformers' modelling stack, torch, Mamba2: ~10 s here) whenever any of it was
imported, the corpus builder and ``neuronarrator --help`` included. transformers registers its own
models by *name*: tables such as ``CONFIG_MAPPING_NAMES`` map a model type to class names, and the
class is imported from ``transformers.models.<model_type>`` on first look-up. We add our names to
those tables and make ``transformers.models.neuronarrator`` an alias of this (lazy) package, so a
look-up imports our modelling file only when a NeuroNarrator checkpoint is loaded.

The tables live in ``transformers.models.auto.*``, whose import itself costs seconds (torch), so we
do not import them: if transformers already has them loaded we fill them now, otherwise a
post-import hook fills each one right after transformers loads it. This module belongs to the
package only; the Hub copy of the model (``trust_remote_code``) uses ``auto_map`` instead.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from types import ModuleType
from typing import Callable

MODEL_TYPE = "neuronarrator"
_PACKAGE = __name__.rpartition(".")[0]

# transformers module -> [(name table, our class)]; the model types of the sub-configs
# (``neuronarrator_eeg``, ``neuronarrator_topomap``) are resolved by NeuroNarratorConfig itself.
_NAME_TABLES: dict[str, list[tuple[str, str]]] = {
    "transformers.models.auto.configuration_auto": [("CONFIG_MAPPING_NAMES", "NeuroNarratorConfig")],
    "transformers.models.auto.modeling_auto": [
        ("MODEL_MAPPING_NAMES", "NeuroNarratorModel"),
        ("MODEL_FOR_CAUSAL_LM_MAPPING_NAMES", "NeuroNarratorForConditionalGeneration"),
    ],
    "transformers.models.auto.feature_extraction_auto": [
        ("FEATURE_EXTRACTOR_MAPPING_NAMES", "NeuroNarratorFeatureExtractor")
    ],
    "transformers.models.auto.processing_auto": [("PROCESSOR_MAPPING_NAMES", "NeuroNarratorProcessor")],
}
_CONFIG_CLASS_NAME = "NeuroNarratorConfig"


def _fill_tables(module: ModuleType) -> None:
    """Add our names to one ``transformers.models.auto`` module's tables (idempotent)."""
    sys.modules.setdefault(f"transformers.models.{MODEL_TYPE}", sys.modules[_PACKAGE])
    for table_name, class_name in _NAME_TABLES[module.__name__]:
        getattr(module, table_name)[MODEL_TYPE] = class_name
    # Lazy mappings built before our config name was known keep a reverse table of their own.
    for value in vars(module).values():
        reverse = getattr(value, "_reverse_config_mapping", None)
        if isinstance(reverse, dict):
            reverse[_CONFIG_CLASS_NAME] = MODEL_TYPE


class _PostImportHook(importlib.abc.MetaPathFinder):
    """Runs ``callback(module)`` right after the module ``name`` has been executed, once."""

    def __init__(self, name: str, callback: Callable[[ModuleType], None]) -> None:
        self.name = name
        self.callback = callback

    def find_spec(self, fullname, path, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module, callback = spec.loader.exec_module, self.callback

        def exec_then_register(module: ModuleType) -> None:
            exec_module(module)
            callback(module)

        spec.loader.exec_module = exec_then_register
        return spec


def register_auto_classes() -> None:
    """Make ``AutoConfig``/``AutoModel``/``AutoModelForCausalLM``/``AutoFeatureExtractor``/
    ``AutoProcessor`` resolve the ``neuronarrator`` model type to this package's classes. Called
    when the package is imported; safe to call again."""
    for name in _NAME_TABLES:
        if name in sys.modules:
            _fill_tables(sys.modules[name])
        elif not any(isinstance(hook, _PostImportHook) and hook.name == name for hook in sys.meta_path):
            sys.meta_path.insert(0, _PostImportHook(name, _fill_tables))
