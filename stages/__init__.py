"""The DVC stages' scripts, one per stage of dvc.yaml.

dvc.yaml runs each as a module from the root of the tree DVC runs it in (`python -m stages.train`):
Python then searches that root first, so a stage imports the tree's own `pipeline/` (the
workspace's, or a `--temp`/`--queue` experiment's copy) before the editable install's.
"""
