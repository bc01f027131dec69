import sys

from sandbox_provider.server import main

sys.exit(main())
