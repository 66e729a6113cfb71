"""What is checked about a flow's files, one module per subject; each rule a small function.

- ``structure``: keys, the files a key stands for, which flow of a file is deployed, two
  flows with one name (found while discovering);
- ``decorator``: the ``@flow`` decorator and what Prefect would read off it (found while
  each file is read);
- ``dependencies``: every import of the flow's own files resolves;
- ``dockerfile``: a container flow's Dockerfile is well-formed, pinned, non-root, has code;
- ``env_file``: env files parse and hold the required keys (values never kept).

Every rule returns ``deploytasks.findings.Finding``s. Discovery calls the first two as it
reads; ``flows.validation`` runs the last three on each flow (``VALIDATION_RULES``), and a
rule that fails with a bug stays inside its flow. A new rule about a flow's files goes
into the module of its subject (docs/TROUBLESHOOTING.md gets its message, a unit test its
case); a new subject is one more module and one more entry in ``VALIDATION_RULES``.
"""

from deploytasks.paths import CONFIG_FILE

CONFIG_HINT = CONFIG_FILE.as_posix()  # where the messages send the user to configure a flow
