"""Training the LoRA reasoner: `data` builds examples in the chain's own prompt/schema format, `loop` trains."""
