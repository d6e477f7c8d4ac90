"""Command modules of the ``reluscope`` CLI; each defines ``register(app)``."""
