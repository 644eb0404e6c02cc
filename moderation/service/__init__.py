"""The HTTP service behind ``moderation serve``: native batch API, Perspective-compatible
endpoints and Coral Talk's external moderation phase.

FastAPI and uvicorn are imported only inside this package (the ``serve`` extra), so
``import moderation`` stays light. Entry point: :func:`moderation.service.app.create_app`.
"""
