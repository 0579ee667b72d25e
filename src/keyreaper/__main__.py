import sys

from keyreaper.cli import main

sys.exit(main())
