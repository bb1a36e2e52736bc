"""The nano-vision command: datasets, training, prediction, export, the demo, docs."""
