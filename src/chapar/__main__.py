import sys

from chapar.cli import main

sys.exit(main())
