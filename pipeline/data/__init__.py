"""MNIST data: IDX format, the three sources (mirrors, packaged wheel, local folder), download and split.

  errors    DataError and its subclasses (what the stages report as one clear message)
  idx       strict IDX reader and writer
  official  names, SHA-256s and gzip MD5s of the four official files; default mirrors
  unpickle  restricted unpickler that only rebuilds numpy arrays
  sources   the mirror, package and folder sources, each returning the four files' bytes
  download  choose sources per params, verify SHA-256, write atomically, record the source
  split     train/val/test split into .npz files, stats, and `load_prepared`
"""
