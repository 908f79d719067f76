"""What a developer, a test or `make demo` runs, never a deployment: vendor emulators and the
dovecot harness (`emulators`), the generated demo world and its runner (`demo`), and the
benchmarks (`bench`). The product never imports this package (checked by import-linter, see
`.importlinter`), except the CLI's `demo` command, lazily inside the command."""
