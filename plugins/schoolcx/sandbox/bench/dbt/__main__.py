"""`python -m schoolcx.sandbox.bench.dbt`: see the package docstring."""

import sys

from schoolcx.sandbox.bench.dbt.run import main

if __name__ == "__main__":
    sys.exit(main())
