import sys

from gym.cli import main

sys.exit(main())
