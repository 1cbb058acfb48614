"""Using a trained model: images prepared as MNIST's were, predictions, ONNX export, the drawing page, the model card."""
