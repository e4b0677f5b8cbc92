import sys

from roomtruth.cli import main

sys.exit(main())
