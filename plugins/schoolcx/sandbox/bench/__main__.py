"""`python -m schoolcx.sandbox.bench`: every benchmark against its ceiling (bench.suite)."""

import sys

from schoolcx.sandbox.bench.suite import main

if __name__ == "__main__":
    sys.exit(main())
