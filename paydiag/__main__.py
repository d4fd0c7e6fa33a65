"""The `paydiag` command, also run as `python -m paydiag`."""

import gc

# Importing the CLI makes a few hundred thousand objects and no garbage: with the collector
# on, 54 collections took 8 ms of every command before it could start.
gc.disable()
from paydiag.cli import main  # noqa: E402
from paydiag.ingest.chunks import keep_freed_chunks  # noqa: E402

gc.enable()
keep_freed_chunks()  # the command's process, and the workers it forks

if __name__ == "__main__":
    main()
