"""TinyEngine code generator: int8 TFLite models to statically planned C."""

__version__ = "0.1.0"
