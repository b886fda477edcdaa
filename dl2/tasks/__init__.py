"""LightningModules: loss, metrics and optimizers around a plain net."""
