"""Session Studio: a policy-enforcing signing sidecar for Ethereum-compatible chains.

The public Python surface (SDK, typed errors) is re-exported here; everything in underscore
modules and in the planes (`session_studio.proxy`, `.policy`, ...) is internal.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
