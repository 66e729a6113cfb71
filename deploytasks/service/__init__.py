"""The service layer: what the front ends of deploytasks do, without printing anything.

The Invoke task bodies (``deploy/commands.py``, ``env/commands.py``), the Python
API (``api.py``) and the quickstart call these functions. Each returns a typed
result, and a long call reports what it is doing to a ``Progress`` (the plan it
read, each outcome as it finishes, …) while it works. The caller hands the
result to a renderer under ``deploytasks/console/`` (or returns it to a script)
and turns it into an exit code. Nothing here prints, exits, reads the terminal
or imports the console; expected failures are ``DeployTasksError``s.

One module per kind of work (see ``docs/architecture.md``):

- ``selection``: what a command works on, and its specs resolved and checked;
- ``state``: what the server holds: the plan, pools and records, read in one go;
- ``progress``: the events a deploy reports while it works;
- ``preview``: build, validate and plan (dry run): nothing is written to the server;
- ``deploying``: deploy, and the apply that promote and the API share;
- ``promoting``: deploy to one environment what another one runs;
- ``cleaning`` and ``adopting``: delete or claim this project's deployments;
- ``checking``: read deployments back as the UI shows them.

This file imports nothing, so that importing one of them costs only that one.
"""
