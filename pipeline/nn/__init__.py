"""The assignment's network and its training, readable on their own: numpy only, no file formats but .npz.

  layers      affine, ReLU, softmax loss, L2: forward/backward pairs with the CS231n layer API
  model       TwoLayerNet (affine - ReLU - affine - softmax, L2), dropout and label smoothing
  preprocess  uint8 images -> float inputs (raw 0-255, [0, 1], centred)
  augment     batch distortions of uint8 digits: shifts, affine maps, elastic fields
  batches     an epoch's minibatches: gathered, distorted, converted, the next one ahead in a thread
  optim       update rules: SGD, momentum, Nesterov, RMSprop, Adam
  schedules   learning rate per epoch: exponential, cosine, step
  loop        the minibatch training loop: optimizer, schedule, settings; pause and continue
  solver      the assignment's Solver: CS231n's keywords mapped onto the training loop
  checkpoint  a training loop's state as an .npz file
  npz         atomic, byte-identical .npz files read without pickle

Nothing here imports the rest of `pipeline` except its error types (`pipeline.errors`).
"""
