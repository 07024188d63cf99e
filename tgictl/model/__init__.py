"""What a model's own files say, read without the weights: its architecture's dimensions
(config.json), its weights' sizes (safetensors and GGUF headers), and the memory arithmetic
every engine's rule shares. Below the engines: each engine's memory rule reads it, and the
planner above the engines puts the pieces together."""
