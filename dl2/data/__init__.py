"""LightningDataModules and the generators behind them."""
