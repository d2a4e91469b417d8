"""``cstool serve``: the Backend over HTTP (the only package that imports the web framework).

- ``operations``: the API as one table (no framework; the remote backend reads it too);
- ``policies``: who may call what;
- ``app``: the FastAPI app built from the table, errors, the event stream;
- ``events``: live events over server-sent events;
- ``limits``: the request size limit;
- ``widget``: the customer web widget;
- ``run``: uvicorn with a graceful stop.

Import ``cstool.server.app`` or ``cstool.server.run`` for the server itself.
"""
