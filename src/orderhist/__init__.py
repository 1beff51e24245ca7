"""orderhist: a real-time order-history pipeline on AWS or on an embedded local AWS."""

__version__ = "0.1.0"
