import sys

from apiany.cli import main

sys.exit(main())
