"""Hyperparameter search: strategies (grid, random, successive halving), a resumable trial store, executors.

Modules: settings (params.yaml:search), strategies (which configs, how many epochs), trial (train one
config up to an epoch from its checkpoint), store (finished trials and checkpoints on disk), executors
(serial, local process pool, Dask), progress (what the user sees), runner (puts them together).
"""
