"""Plain torch nn.Modules; nothing here imports Lightning."""
