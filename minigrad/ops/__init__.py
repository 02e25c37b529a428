"""The differentiable operations, one module per family (see each module's docstring)."""
