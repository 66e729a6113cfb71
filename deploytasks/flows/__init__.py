"""The flows of a repository, read from source (never imported), and what is wrong with them.

In data-flow order: ``layouts`` (which keys, which files) → ``discovery`` (read each
unit: ``files`` for safe reading, ``source`` for the flows of a file, ``metadata`` for
what Prefect would read off each, ``entry`` and ``choice`` for which flow a key deploys,
``flow_files`` for its Dockerfile, requirements and env files; ``parallel`` spreads the
work) → ``validation`` (the rules of ``rules/`` on every flow; ``repository``,
``imports``, ``dependencies`` and ``dockerfile`` are what they read with). ``model`` holds
the results, ``selection`` what ``--flow`` selects, ``commands`` and ``tasks`` the
``flows.*`` tasks.
"""
