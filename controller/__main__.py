"""`python -m controller` is the `provisioner` command, for environments without the script."""

from controller.cli import main

main()
