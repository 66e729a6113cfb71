"""The images collection: build, push and pull each flow's Docker image.

Modules, from pure to effectful:

- ``dockerignore``, ``content`` — .dockerignore semantics, image names, content tags (pure).
- ``targets``, ``manifest``, ``results`` — which flows have images, shared settings, the
  ``build/images/manifest.json`` record, per-image results and the bounded thread pool.
- ``docker_api`` — the only gateway to the Docker engine and registries (lazy imports).
- ``build``, ``transfer`` — build/reuse, push and pull orchestration.
- ``base_image``, ``wheelhouse`` — the Prefect base image made without Docker Hub.
- ``refs`` — ``image_for_flow`` / ``locate_image`` for the deploy side.
- ``commands``, ``tasks`` — task bodies and the thin Invoke tasks.
"""
