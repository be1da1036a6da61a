import sys

from facturador.cli import main

sys.exit(main())
