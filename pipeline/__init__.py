"""numpy library behind the MNIST two-layer-network pipeline.

Modules, one job each:
  fileio      atomic writes, deterministic .npz, JSON
  params      params.yaml loading and validation
  data/       IDX format, MNIST sources (mirrors, packaged wheel, folder), download, split
  layers      affine / ReLU / softmax-loss / L2 with the forward-cache-backward API
  preprocess  uint8 images -> float batches (raw 0-255 or scaled to [0, 1])
  model       TwoLayerNet
  optim       SGD, momentum, Nesterov, Adam
  schedules   learning-rate schedules
  solver      minibatch training loop
  training    TrainParams (params.yaml:train) -> a trained model
  persistence model save/load (.npz + JSON metadata)
  search      parallel hyperparameter grid search
  evaluate    test accuracy, per-class accuracy, confusion matrix
  plotting    matplotlib figures; figures composes them for the plot stage
  cli         what every stage script shares
  check_repro rerun the pipeline in a fresh clone and compare with what is committed
"""
